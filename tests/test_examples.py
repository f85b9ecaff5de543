"""Every script in examples/ runs as a user would run it (one epoch) and writes what it says."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--epochs", "1", *args],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.parametrize(
    ("script", "methods"),
    [("own_model.py", ["single", "maxl"]), ("tabular.py", ["single", "random", "maxl"])],
)
def test_the_fit_examples_train_each_method(tmp_path, script, methods):
    printed = run(script, "--out", str(tmp_path))
    for method in methods:
        accuracy = re.search(rf"^{method}: test accuracy ([\d.]+)%", printed, re.MULTILINE)
        assert accuracy is not None, printed
        results = json.loads((tmp_path / method / "results.json").read_text())
        assert float(accuracy.group(1)) == pytest.approx(100 * results["test_accuracy"], abs=0.01)
        assert results["method"] == method


def test_the_own_loop_example_trains_with_the_meta_labeler():
    printed = run("own_loop.py")
    assert re.fullmatch(r"epoch 1: loss [\d.]+, test accuracy [\d.]+%\n", printed), printed
