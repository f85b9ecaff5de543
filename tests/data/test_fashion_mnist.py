import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from maxl.assembly.datasets import load_dataset
from maxl.data.fashion_mnist import SHA256, SYSTEM_DIRS, load_fashion_mnist
from maxl.errors import MaxlError

NAMES_10 = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]  # fmt: skip
# written out per class name, independently of the module's tables
SIX = {"T-shirt/top": "Tops", "Pullover": "Tops", "Shirt": "Tops", "Trouser": "Bottoms",
       "Dress": "Dresses", "Coat": "Outers", "Sandal": "Shoes", "Sneaker": "Shoes",
       "Ankle boot": "Shoes", "Bag": "Bags"}  # fmt: skip
GOODS = {"Sandal", "Sneaker", "Bag", "Ankle boot"}


def no_network(url: str, dest: Path) -> None:
    raise AssertionError(f"unexpected download of {url}")


def load(folder, fake, **kw):
    kw.setdefault("system_dirs", ())
    kw.setdefault("fetch", no_network)
    return load_fashion_mnist(folder, checksums=fake.checksums, **kw)


def check_hierarchy(ds):
    for split in ("train", "test"):
        labels = getattr(ds, f"labels_{split}")
        assert list(labels) == ["2", "5", "6", "10"]
        for fine, six, two in zip(*(labels[k].tolist() for k in ("10", "6", "2")), strict=True):
            name = NAMES_10[fine]
            assert ds.class_names["6"][six] == SIX[name]
            assert ds.class_names["2"][two] == ("Goods" if name in GOODS else "Clothes")


def test_small_generated_files_load(isolated_env, tmp_path, fake_fashion):
    ds = load(fake_fashion.write(tmp_path / "data"), fake_fashion)
    assert ds.name == "fashion-mnist" and ds.flip and ds.default_level == "10"
    assert ds.x_train.shape == (20, 1, 28, 28) and ds.x_test.shape == (10, 1, 28, 28)
    assert ds.x_train.dtype == torch.uint8 and ds.x_train.is_contiguous()
    assert np.array_equal(ds.x_train[:, 0].numpy(), fake_fashion.x["train"])
    assert np.array_equal(ds.x_test[:, 0].numpy(), fake_fashion.x["t10k"])
    assert ds.labels_test["10"].tolist() == fake_fashion.y["t10k"].tolist()
    assert ds.labels_train["10"].dtype == torch.int64
    assert ds.class_names["10"] == NAMES_10
    assert ds.class_names["2"] == ["Clothes", "Goods"]
    assert ds.class_names["6"] == ["Tops", "Bottoms", "Dresses", "Outers", "Shoes", "Bags"]
    assert [ds.num_classes(level) for level in ds.levels] == [2, 5, 6, 10]
    check_hierarchy(ds)
    assert ds.labels_train["2"].tolist()[:10] == [0, 0, 0, 0, 0, 1, 0, 1, 1, 1]
    assert ds.labels_train["6"].tolist()[:10] == [0, 1, 0, 2, 3, 4, 0, 4, 5, 4]
    # level 5 pairs each class with the one five after it: T-shirt with Sandal, and so on
    assert ds.labels_train["5"].tolist()[:10] == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]
    assert ds.class_names["5"][0] == "T-shirt/top | Sandal"
    assert ds.class_names["5"][4] == "Coat | Ankle boot"


def test_torchvision_layout_and_decompressed_files(isolated_env, tmp_path, fake_fashion):
    fake_fashion.write(tmp_path / "tv" / "FashionMNIST" / "raw", gz=False)
    ds = load(tmp_path / "tv", fake_fashion)
    assert np.array_equal(ds.x_train[:, 0].numpy(), fake_fashion.x["train"])


def test_maxl_data_environment_variable(isolated_env, monkeypatch, tmp_path, fake_fashion):
    monkeypatch.setenv("MAXL_DATA", str(fake_fashion.write(tmp_path / "env")))
    assert len(load(None, fake_fashion).x_test) == 10


def test_system_folder_is_used(isolated_env, tmp_path, fake_fashion):
    system = fake_fashion.write(tmp_path / "usr-share")
    assert len(load(None, fake_fashion, system_dirs=(system,)).x_train) == 20


def test_download_into_cache_through_fetch(isolated_env, tmp_path, fake_fashion):
    fake_fashion.write(tmp_path / "partial", names=("train-images-idx3-ubyte",))
    urls = []

    def fetch(url: str, dest: Path) -> None:
        urls.append(url)
        name = url.rsplit("/", 1)[1].removesuffix(".gz")
        dest.write_bytes(gzip.compress(fake_fashion.raw[name]))

    ds = load(tmp_path / "partial", fake_fashion, fetch=fetch)
    assert len(ds.x_train) == 20
    base = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
    wanted = ("train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    assert urls == [f"{base}{name}.gz" for name in wanted]
    assert (isolated_env / "fashion-mnist" / "t10k-images-idx3-ubyte.gz").is_file()


def test_failed_download_says_how_to_provide_files(isolated_env, fake_fashion):
    def offline(url: str, dest: Path) -> None:
        raise OSError("no route to host")

    with pytest.raises(MaxlError, match=r"amazonaws\.com/train-images-idx3-ubyte\.gz.*--data-dir"):
        load(None, fake_fashion, fetch=offline)


def test_truncated_file_is_named(isolated_env, tmp_path, fake_fashion):
    folder = fake_fashion.write(tmp_path / "data")
    path = folder / "t10k-images-idx3-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-100]))  # a valid gzip of a truncated file
    with pytest.raises(MaxlError, match=r"t10k-images-idx3-ubyte\.gz .*dataset-fashion-mnist"):
        load(folder, fake_fashion)
    path.write_bytes(gzip.compress(raw)[:-50])  # a cut-off gzip stream
    with pytest.raises(MaxlError, match=r"t10k-images-idx3-ubyte\.gz is corrupt or truncated"):
        load(folder, fake_fashion)


def test_corrupted_file_is_named(isolated_env, tmp_path, fake_fashion):
    folder = fake_fashion.write(tmp_path / "data", gz=False)
    path = folder / "train-labels-idx1-ubyte"
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(MaxlError, match=r"train-labels-idx1-ubyte does not match.*delete it"):
        load(folder, fake_fashion)


def test_header_checked_even_without_checksum(isolated_env, tmp_path, fake_fashion):
    folder = fake_fashion.write(tmp_path / "data", gz=False)
    path = folder / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-1])
    checksums = {k: v for k, v in fake_fashion.checksums.items() if "train-images" not in k}
    with pytest.raises(MaxlError, match=r"train-images-idx3-ubyte has \d+ bytes"):
        load_fashion_mnist(folder, checksums=checksums, system_dirs=(), fetch=no_network)


def test_label_count_must_match_images(isolated_env, tmp_path, fake_fashion):
    from data_helpers import idx_bytes

    fake_fashion.raw["t10k-labels-idx1-ubyte"] = idx_bytes(list(range(9)), (9,))
    fake_fashion.checksums = {}
    with pytest.raises(MaxlError, match="not 10 uint8 labels"):
        load(fake_fashion.write(tmp_path / "data"), fake_fashion)


def test_real_files_if_installed(monkeypatch):
    if not all((SYSTEM_DIRS[0] / f"{name}.gz").is_file() for name in SHA256):
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    monkeypatch.delenv("MAXL_DATA", raising=False)
    ds = load_dataset("fashion-mnist")  # the real checksums, from the system folder
    assert ds.x_train.shape == (60000, 1, 28, 28) and ds.x_test.shape == (10000, 1, 28, 28)
    counts = {k: torch.bincount(v).tolist() for k, v in ds.labels_train.items()}
    assert counts == {"2": [36000, 24000], "5": [12000] * 5,
                      "6": [18000, 6000, 6000, 6000, 18000, 6000], "10": [6000] * 10}  # fmt: skip
    check_hierarchy(ds)
