"""The README's Python example runs as written (in a fresh folder) and does what it says: the
model it gets back reproduces the recorded test accuracy, from the folder too."""

from __future__ import annotations

import json
import re
import runpy
from pathlib import Path

import torch

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.DOTALL)


def test_the_readme_example_runs_and_its_model_reproduces_the_accuracy(tmp_path, monkeypatch):
    blocks = python_blocks(README.read_text())
    assert blocks, "the README shows no Python example"
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "example.py"
    script.write_text("\n".join(blocks))
    names = runpy.run_path(str(script))
    x, y = names["x"], names["y"]
    recorded = json.loads((tmp_path / "runs" / "readme" / "results.json").read_text())
    assert (names["predicted"] == y[1200:]).double().mean().item() == recorded["test_accuracy"]
    assert torch.equal(names["model"].predict(x[1200:]), names["predicted"])
    assert recorded["num_val"] == 200 and "best_epoch" in recorded
