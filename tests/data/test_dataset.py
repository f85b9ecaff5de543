import pytest
import torch

from maxl.assembly.datasets import KNOWN_DATASETS, load_dataset
from maxl.data import ImageDataset
from maxl.errors import MaxlError


def make(**changes):
    fields = dict(
        name="toy",
        x_train=torch.zeros(4, 1, 2, 2, dtype=torch.uint8),
        x_test=torch.zeros(2, 1, 2, 2, dtype=torch.uint8),
        labels_train={"2": torch.tensor([0, 1, 0, 1]), "4": torch.tensor([0, 1, 2, 3])},
        labels_test={"2": torch.tensor([0, 1]), "4": torch.tensor([2, 3])},
        default_level="4",
        flip=False,
        class_names={"2": ["a", "b"]},
    )
    return ImageDataset(**{**fields, **changes})


def test_levels_and_num_classes():
    ds = make()
    assert ds.levels == ["2", "4"]
    assert ds.num_classes() == 4 and ds.num_classes("2") == 2
    with pytest.raises(MaxlError, match=r"no level '3'; choose one of \['2', '4'\]"):
        ds.num_classes("3")


def test_frozen():
    with pytest.raises(AttributeError):
        make().name = "other"


@pytest.mark.parametrize(
    "changes, words",
    [
        (
            {"x_train": torch.zeros(4, 1, 2, 2, dtype=torch.float64)},
            "train inputs must be a non-empty uint8",
        ),
        (
            {"x_train": torch.zeros(4, 1, 2, 2)},
            "train inputs are torch.float32 but test inputs are torch.uint8",
        ),
        ({"x_test": torch.zeros(2, 2, 2, dtype=torch.uint8)}, "test inputs must be"),
        ({"x_test": torch.zeros(2, 3, 2, 2, dtype=torch.uint8)}, r"give both splits the same"),
        ({"labels_test": {"2": torch.tensor([0, 1])}}, "levels .* differ"),
        ({"labels_train": {"2": torch.tensor([0, 1, 0, 1]), "4": torch.tensor([0, 1, 2])}},
         r"expected int64 \[4\]"),
        ({"labels_test": {"2": torch.tensor([0, 1]), "4": torch.tensor([2, 4])}},
         r"level '4', test labels: values span 2\.\.4"),
        ({"labels_test": {"2": torch.tensor([0, 1]), "4": torch.tensor([0, 1], dtype=torch.int32)}},
         "int64"),
        ({"default_level": "10"}, "default level '10' is not one of"),
        ({"class_names": {"2": ["a"]}}, r"class_names\['2'\]"),
        ({"class_names": {"7": []}}, r"class_names\['7'\]"),
    ],
)  # fmt: skip
def test_inconsistent_datasets_rejected(changes, words):
    with pytest.raises(MaxlError, match=words):
        make(**changes)


def test_level_names_must_be_counts():
    labels = {"coarse": torch.tensor([0, 1, 0, 1])}
    with pytest.raises(MaxlError, match="'coarse' is not a class count"):
        make(labels_train=labels, labels_test={"coarse": torch.tensor([0, 1])},
             default_level="coarse", class_names={})  # fmt: skip


@pytest.mark.parametrize("name", ["cifar-11", "mnist-ish", ""])
def test_unknown_name_lists_known_ones(name):
    known = "digits, fashion-mnist, mnist, cifar10, cifar100, svhn, cinic10, npz:PATH, folder:PATH"
    with pytest.raises(MaxlError, match=f"use one of {known}"):
        load_dataset(name)
    assert ", ".join(KNOWN_DATASETS) == known


def test_npz_hints():
    with pytest.raises(MaxlError, match=r"npz:mine\.npz"):
        load_dataset("mine.npz")
    with pytest.raises(MaxlError, match="names no file"):
        load_dataset("npz:")


def test_name_spelling_is_forgiving(monkeypatch):
    import maxl.assembly.datasets as registry

    calls = []
    monkeypatch.setattr(registry, "load_fashion_mnist", lambda data_dir: calls.append(data_dir))
    load_dataset("FASHION_MNIST", data_dir="/some/dir")
    assert calls == ["/some/dir"]
    assert load_dataset("Digits").name == "digits"


@pytest.mark.parametrize(
    ("name", "module", "loader"),
    [
        ("cifar10", "cifar", "load_cifar10"),
        ("CIFAR100", "cifar", "load_cifar100"),
        ("mnist", "mnist", "load_mnist"),
        ("svhn", "svhn", "load_svhn"),
        ("cinic10", "cinic10", "load_cinic10"),
    ],
)
def test_paper_datasets_are_registered(monkeypatch, name, module, loader):
    import importlib

    import maxl.assembly.datasets as registry

    assert getattr(registry, loader) is getattr(
        importlib.import_module(f"maxl.data.{module}"), loader
    )
    monkeypatch.setattr(registry, loader, lambda d: (loader, d))
    assert load_dataset(name, data_dir="/d") == (loader, "/d")
