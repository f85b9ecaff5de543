"""maxl.fit(..., stream=True): training from a Dataset read batch by batch is training in
memory, bit for bit, for every method (no random transforms); with the Dataset's own random
transforms it is reproducible across workers, resumes exactly, and 2 processes equal 1."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from state_helpers import assert_equal_states
from stream_helpers import DIGITS_OPTIONS, Digits, digits_splits, small_cnn

import maxl
import maxl.engine
from maxl.assembly import train
from maxl.config import TrainConfig
from maxl.data.stream_scan import streamed_dataset
from maxl.errors import MaxlError
from maxl.interrupt import Interrupted

TIMING_KEYS = ("epoch_time_s", "analysis_time_s")


def checkpoint(out: Path) -> dict:
    saved = torch.load(out / "checkpoint.pt", weights_only=True)
    for record in saved["metrics"]:
        for key in TIMING_KEYS:
            record.pop(key, None)
    saved.pop("wall_time_s")
    return saved


@pytest.mark.parametrize(
    ("method", "options"),
    [
        ("maxl", {"schedule": "epochs"}),
        ("maxl", {"schedule": "batches", "meta_data": "holdout:0.2"}),
        ("kmeans", {"kmeans_epochs": 1}),
        ("random", {}),
        ("human", {"psi": None}),
    ],
)
def test_streaming_trains_bit_for_bit_as_in_memory(tmp_path, method, options):
    train_split, test_split = digits_splits(fine=True)
    runs = {}
    for name, stream, workers in (("memory", False, None), ("stream", True, 2)):
        result = maxl.fit(
            small_cnn,
            Digits(*train_split),
            Digits(*test_split),
            method=method,
            out=tmp_path / name,
            stream=stream,
            workers=workers,
            **{**DIGITS_OPTIONS, **options},
        )
        assert result.results["streamed"] is stream
        runs[name] = checkpoint(result.out)
    assert_equal_states(runs["stream"], runs["memory"])
    labels = [np.load(tmp_path / name / "aux_labels.npz") for name in runs]
    for key in labels[1].files:
        assert np.array_equal(labels[0][key], labels[1][key]), key


def noisy_config(out: Path) -> TrainConfig:
    return TrainConfig(
        dataset="tensors",
        method="maxl",
        psi=(2,),
        batch_size=50,
        epochs=2,
        schedule="epochs",
        momentum=0.9,
        augment=True,
        crop_pad=1,
        progress=False,
        out=out,
    )


def noisy_dataset(workers: int):
    train_split, test_split = digits_splits(fine=False)
    sources = {"train": Digits(*train_split, noise=40), "test": Digits(*test_split)}
    return streamed_dataset(sources, seed=0, workers=workers)


def test_random_transforms_are_the_same_with_any_workers_and_resume_exactly(tmp_path, monkeypatch):
    """The Dataset adds random noise to each image: runs with 0 and 2 workers agree bit for
    bit, and a run stopped by Ctrl-C in epoch 2 and resumed ends where they do."""
    straight = {}
    for workers in (0, 2):
        out = tmp_path / f"workers-{workers}"
        train(noisy_config(out), dataset=noisy_dataset(workers), backbone=backbone_factory())
        straight[workers] = checkpoint(out)
    assert_equal_states(straight[2], straight[0])

    steps = {"n": 0}
    train_step = maxl.engine.train_step

    def step_then_press_ctrl_c(*args, **kwargs):
        steps["n"] += 1
        if steps["n"] == 6:  # epoch 2's second step (4 steps an epoch)
            signal.raise_signal(signal.SIGINT)
        return train_step(*args, **kwargs)

    monkeypatch.setattr(maxl.engine, "train_step", step_then_press_ctrl_c)
    out = tmp_path / "resumed"
    with pytest.raises(Interrupted):
        train(noisy_config(out), dataset=noisy_dataset(2), backbone=backbone_factory())
    monkeypatch.setattr(maxl.engine, "train_step", train_step)
    config = dataclasses.replace(noisy_config(out), resume=True)
    train(config, dataset=noisy_dataset(2), backbone=backbone_factory())
    assert_equal_states(checkpoint(out), straight[0])


def backbone_factory():
    def make():
        trunk = small_cnn()
        return trunk, trunk.feature_dim

    return make


def test_the_datasets_own_transform_reaches_training(tmp_path):
    """The same streamed run with and without the Dataset's random noise differs (that the
    noise is drawn anew each pass: tests/data/test_streamed.py)."""
    plain = tmp_path / "plain"
    train_split, test_split = digits_splits(fine=False)
    sources = {"train": Digits(*train_split), "test": Digits(*test_split)}
    train(noisy_config(plain), dataset=streamed_dataset(sources, 0, 0), backbone=backbone_factory())
    noisy = tmp_path / "noisy"
    train(noisy_config(noisy), dataset=noisy_dataset(0), backbone=backbone_factory())
    assert not torch.equal(checkpoint(plain)["net"]["aux_head.weight"],
                           checkpoint(noisy)["net"]["aux_head.weight"])  # fmt: skip


def test_two_processes_streaming_equal_one(tmp_path):
    """torchrun with 2 gloo processes, each reading only its share of every global batch (a
    DataLoader of its shard), against 1 process: parameters agree to 1e-5 relative."""
    helper = Path(__file__).with_name("stream_helpers.py")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node=2", str(helper), str(tmp_path / "two")]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(helper.parent)},
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    subprocess.run(
        [sys.executable, str(helper), str(tmp_path / "one")],
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(helper.parent)},
        timeout=300,
        check=True,
    )
    results = json.loads((tmp_path / "two" / "results.json").read_text())
    assert results["world_size"] == 2 and results["streamed"] is True
    two, one = checkpoint(tmp_path / "two"), checkpoint(tmp_path / "one")
    for part in (("net",), ("method", "generator")):
        got, expected = two, one
        for key in part:
            got, expected = got[key], expected[key]
        for name, value in expected.items():
            if value.is_floating_point():
                difference = (got[name] - value).norm() / value.norm().clamp_min(1e-30)
                assert difference <= 1e-5, name
    assert two["metrics"][-1]["train_loss"] == pytest.approx(
        one["metrics"][-1]["train_loss"], rel=1e-5
    )


def test_a_large_dataset_streams_by_itself_and_says_so(tmp_path, monkeypatch):
    train_split, test_split = digits_splits(fine=False)
    lines = []
    options = {**DIGITS_OPTIONS, "epochs": 1, "log": lines.append}
    monkeypatch.setattr(maxl.api, "free_memory", lambda: 10**9)
    kept = maxl.fit(small_cnn, Digits(*train_split), Digits(*test_split), method="single",
                    out=tmp_path / "kept", **options)  # fmt: skip
    assert kept.results["streamed"] is False
    monkeypatch.setattr(maxl.api, "free_memory", lambda: 4 * 64 * 200 - 1)  # 200 8×8 images
    streamed = maxl.fit(small_cnn, Digits(*train_split), Digits(*test_split), method="single",
                        out=tmp_path / "streamed", **options)  # fmt: skip
    assert streamed.results["streamed"] is True
    said = [line for line in lines if "streaming" in line]
    assert len(said) == 1 and "stream=False loads them whole" in said[0]
    assert streamed.test_accuracy == kept.test_accuracy
    x_test, y_test = test_split
    predicted = streamed.model.predict(x_test)  # the model back, on inputs given as to fit
    assert float((predicted == y_test).double().mean()) == streamed.test_accuracy


class NoLength(torch.utils.data.Dataset):
    def __getitem__(self, i):
        return torch.zeros(1, 8, 8), 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"train": NoLength()}, "is a Dataset without len"),
        ({"train": "images.npz"}, "reads train from a torch Dataset, got a str"),
        ({"stream": "yes"}, "stream must be True, False or None"),
        ({"workers": -1}, "workers must be a whole number >= 0"),
    ],
)
def test_bad_streaming_input_is_one_line(tmp_path, change, message):
    train_split, test_split = digits_splits(fine=False)
    arguments = {"train": Digits(*train_split), "test": Digits(*test_split), "stream": True}
    arguments.update(change)
    with pytest.raises(MaxlError, match=message) as error:
        maxl.fit(small_cnn, out=tmp_path, **DIGITS_OPTIONS, **arguments)
    assert "\n" not in str(error.value)
