"""maxl.fit on the user's own backbone and data: exactly `maxl train` on the same data written
as an .npz (parameters and accuracy), Datasets and modules as inputs, and one clear error for
each kind of bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

import maxl
from maxl.cli import main

OPTIONS = {"epochs": 2, "seed": 1, "batch_size": 50, "lr": 0.1, "analysis_size": 64}


class HandMLP(nn.Module):
    """Written here, layer for layer what `--backbone mlp` builds (so the seeds draw alike)."""

    def __init__(self, inputs: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(inputs, 256), nn.BatchNorm1d(256), nn.ReLU(),
            nn.Linear(256, 256), nn.BatchNorm1d(256), nn.ReLU(),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


@pytest.fixture(scope="module")
def digits_vectors():
    """scikit-learn's digits as 64-dim feature vectors: primary = parity, fine = the digit."""
    x, digit = load_digits(return_X_y=True)
    x = torch.tensor(x[:400], dtype=torch.float32)
    digit = torch.tensor(digit[:400])
    return (x[:300], digit[:300] % 2, digit[:300]), (x[300:], digit[300:] % 2, digit[300:])


def write_npz(path, train, test):
    np.savez(path, x_train=train[0].numpy(), y_train=train[1].numpy(), fine_train=train[2].numpy(),
             x_test=test[0].numpy(), y_test=test[1].numpy(), fine_test=test[2].numpy())  # fmt: skip


@pytest.mark.parametrize("method", ["single", "maxl"])
def test_fit_with_a_hand_written_backbone_is_maxl_train_on_the_same_npz(
    tmp_path, digits_vectors, method
):
    train, test = digits_vectors
    write_npz(tmp_path / "data.npz", train, test)
    cli = tmp_path / "cli"
    args = ["train", "--dataset", f"npz:{tmp_path / 'data.npz'}", "--method", method]
    args += ["--backbone", "mlp", "--out", str(cli), "--no-progress"]
    args += [f"--{k.replace('_', '-')}={v}" for k, v in OPTIONS.items()]
    assert main(args) == 0
    result = maxl.fit(lambda: HandMLP(64), train, test, method=method, out=tmp_path / "fit",
                      **OPTIONS)  # fmt: skip
    expected = json.loads((cli / "results.json").read_text())
    written = json.loads((tmp_path / "fit" / "results.json").read_text())
    assert result.test_accuracy == expected["test_accuracy"] == written["test_accuracy"]
    assert result.out == tmp_path / "fit"
    ours = torch.load(tmp_path / "fit" / "checkpoint.pt", weights_only=True)
    theirs = torch.load(cli / "checkpoint.pt", weights_only=True)
    for got, want in zip(ours["net"].values(), theirs["net"].values(), strict=True):
        assert torch.equal(got, want)
    if method == "maxl":
        gen = zip(ours["method"]["generator"].values(), theirs["method"]["generator"].values(),
                  strict=True)  # fmt: skip
        assert all(torch.equal(got, want) for got, want in gen)


class Pairs(torch.utils.data.Dataset):
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])


def test_a_dataset_and_a_module_instance_are_accepted(tmp_path, digits_vectors):
    train, test = digits_vectors
    trunk = HandMLP(64)
    start = [p.detach().clone() for p in trunk.parameters()]
    result = maxl.fit(trunk, Pairs(*train[:2]), Pairs(*test[:2]), method="maxl", psi=2,
                      out=tmp_path / "run", epochs=1, schedule="batches")  # fmt: skip
    assert 0.5 < result.test_accuracy <= 1
    saved = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert saved["method"]["generator"]["backbone.body.0.weight"].shape == (256, 64)
    assert not torch.equal(trunk.body[0].weight.detach(), start[0])  # the given module trained
    assert result.results["psi"] == [2, 2]


def test_a_meta_depth_on_a_backbone_without_blocks_warns_and_trains_through_all_of_it(
    tmp_path, digits_vectors
):
    train, test = digits_vectors
    options = {"method": "maxl", "psi": 2, "epochs": 1, "schedule": "batches", "seed": 2}
    whole = maxl.fit(lambda: HandMLP(64), train[:2], test[:2], out=tmp_path / "a", **options)
    with pytest.warns(UserWarning, match="runs through all of it"):
        deep = maxl.fit(
            lambda: HandMLP(64), train[:2], test[:2], out=tmp_path / "b", meta_depth=1, **options
        )
    assert deep.test_accuracy == whole.test_accuracy
    a, b = (torch.load(r.out / "checkpoint.pt", weights_only=True) for r in (whole, deep))
    for name, value in a["method"]["generator"].items():
        assert torch.equal(value, b["method"]["generator"][name]), name


def test_human_uses_the_fine_labels_and_their_psi(tmp_path, digits_vectors):
    train, test = digits_vectors
    result = maxl.fit(lambda: HandMLP(64), train, test, method="human", out=tmp_path / "h",
                      epochs=1)  # fmt: skip
    assert result.results["psi"] == [5, 5]


class Pooled(nn.Module):
    def forward(self, x):
        return x.unsqueeze(1)  # [N, 1, D]: not features [N, D]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda t, v, o: maxl.fit(Pooled(), t, v, out=o), r"must map x \[N, \.\.\.\] to features"),
        (
            lambda t, v, o: maxl.fit(lambda: HandMLP(64), t, v, psi=[2, 2, 2], out=o),
            "has 3 entries but the primary task",
        ),
        (
            lambda t, v, o: maxl.fit(lambda: HandMLP(64), t[:2], v[:2], method="human", out=o),
            "--method human needs finer labels",
        ),
        (
            lambda t, v, o: maxl.fit(lambda: HandMLP(64), (t[0], -t[1]), v[:2], out=o),
            "negative label",
        ),
        (
            lambda t, v, o: maxl.fit(lambda: HandMLP(64), (t[0], t[1].float()), v[:2], out=o),
            "labels must be integers",
        ),
        (
            lambda t, v, o: maxl.fit(lambda: HandMLP(64), [t[0]], v, out=o),
            r"give train=\(x, y\) or \(x, y, fine\)",
        ),
        (
            lambda t, v, o: maxl.fit(lambda: HandMLP(64), t, v, epochz=3, out=o),
            "maxl.fit has no option 'epochz'",
        ),
        (lambda t, v, o: maxl.fit(HandMLP(32), t, v, out=o), "the backbone fails on inputs"),
        (lambda t, v, o: maxl.fit("mlp", t, v, out=o), "give an nn.Module or a zero-argument"),
    ],
)
def test_bad_input_is_one_clear_error(tmp_path, digits_vectors, call, message):
    train, test = digits_vectors
    with pytest.raises(maxl.MaxlError, match=message) as caught:
        call(train, test, tmp_path / "run")
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "run" / "results.json").exists()


def test_a_dataset_of_the_wrong_items_is_one_clear_error(tmp_path, digits_vectors):
    train, test = digits_vectors

    class Images(torch.utils.data.Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return train[0][i]  # no label

    with pytest.raises(maxl.MaxlError, match="train yields Tensors"):
        maxl.fit(lambda: HandMLP(64), Images(), test, out=tmp_path / "run")


def test_fit_shows_progress_by_default_and_is_silent_when_asked(tmp_path, digits_vectors, capsys):
    train, test = digits_vectors
    maxl.fit(HandMLP(64), train=train[:2], test=test[:2], psi=2, method="single",
             out=tmp_path / "loud", **OPTIONS)  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("single on tensors") and "300 training rows" in lines[0]
    assert [line.split()[:2] for line in lines if line.startswith("epoch")] == [
        ["epoch", "1/2"],
        ["epoch", "2/2"],
    ]
    maxl.fit(HandMLP(64), train=train[:2], test=test[:2], psi=2, method="single",
             out=tmp_path / "quiet", progress=False, **OPTIONS)  # fmt: skip
    assert capsys.readouterr().out == ""


def test_results_json_names_the_backbone_and_augmentation_as_run(tmp_path, digits_vectors):
    train, test = digits_vectors
    maxl.fit(HandMLP(64), train=train[:2], test=test[:2], psi=2, method="single",
             out=tmp_path / "fit", progress=False, **OPTIONS)  # fmt: skip
    results = json.loads((tmp_path / "fit" / "results.json").read_text())
    assert results["backbone"] == "user:HandMLP"
    assert results["augmentation"] == {"crop_pad": 0, "flip": False}  # feature vectors
    args = ["train", "--dataset", "digits", "--epochs", "1", "--analysis-size", "0"]
    assert main([*args, "--no-progress", "--out", str(tmp_path / "cli")]) == 0
    results = json.loads((tmp_path / "cli" / "results.json").read_text())
    assert results["backbone"] == "small-cnn"
    assert results["augmentation"] == {"crop_pad": 1, "flip": False}  # 8x8 digits: pad 8/8
