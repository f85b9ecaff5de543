"""--tensorboard: the scalars read back with tensorboard's own event reader equal metrics.jsonl;
without the package, one clear error that says how to install it."""

from __future__ import annotations

import builtins
import json

import pytest

from maxl.assembly import train
from maxl.config import TrainConfig
from maxl.errors import MaxlError
from maxl.tensorboard_log import TensorBoardLog

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def test_every_metric_of_every_epoch_is_a_scalar(tmp_path):
    config = TrainConfig(
        dataset="digits", method="maxl", psi=(2,), train_size=120, batch_size=40, epochs=2,
        analysis_size=40, tensorboard=True, device="cpu", progress=False, out=tmp_path / "run",
    )  # fmt: skip
    train(config)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    reader = event_accumulator.EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    reader.Reload()
    expected = {}
    for record in records:
        for key, value in record.items():
            if key == "epoch":
                continue
            values = value if isinstance(value, list) else [value]
            names = [f"{key}/{i}" for i in range(len(values))] if isinstance(value, list) else [key]
            for name, item in zip(names, values, strict=True):
                expected.setdefault(name, []).append((record["epoch"], item))
    assert set(reader.Tags()["scalars"]) == set(expected)
    assert "aux_usage/3" in expected and "test_accuracy" in expected
    for name, points in expected.items():
        got = [(event.step, event.value) for event in reader.Scalars(name)]
        assert [step for step, _ in got] == [step for step, _ in points]
        assert [value for _, value in got] == pytest.approx([v for _, v in points], rel=1e-6)


def test_without_tensorboard_the_option_says_how_to_install_it(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name.startswith("torch.utils.tensorboard"):
            raise ImportError("No module named 'tensorboard'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    with pytest.raises(MaxlError, match=r"pip install 'maxl\[tensorboard\]'"):
        TensorBoardLog(tmp_path)
