"""The scripts in benchmarks/ are thin: each answers --help, and none of them (nor any in
examples/) touches sys.path, imports a private name or another script, or names a run-folder
file (maxl.run_folder owns those names)."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((ROOT / "benchmarks").glob("*.py"))
CHECKED = [p for folder in ("benchmarks", "examples") for p in sorted((ROOT / folder).iterdir())]
RUN_FILES = re.compile(
    r"(?<![\w.-])(results\.json|metrics\.jsonl|aux_labels\.npz|checkpoint\.pt|best\.pt)\b"
)


def test_there_are_scripts_to_check():
    assert len(SCRIPTS) >= 8 and any(p.suffix == ".sh" for p in CHECKED)


def test_every_script_answers_help():
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    running = {
        path.name: subprocess.Popen(
            [sys.executable, str(path), "--help"],
            env=env,
            cwd=ROOT,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for path in SCRIPTS
    }
    for name, process in running.items():
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, f"{name}: {err[-1000:]}"
        assert out.startswith("usage:"), name


@pytest.mark.parametrize("path", CHECKED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_sys_path_and_no_run_folder_file_names(path):
    text = path.read_text()
    assert "sys.path" not in text
    assert not RUN_FILES.findall(text), "read run folders through maxl.run_folder"


@pytest.mark.parametrize("path", [p for p in CHECKED if p.suffix == ".py"], ids=lambda p: p.name)
def test_only_public_names_of_maxl_and_no_other_script_are_imported(path):
    scripts = {p.stem for p in CHECKED if p.suffix == ".py"}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            modules, names = [node.module or ""], [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            modules, names = [a.name for a in node.names], []
        else:
            continue
        for module in (m for m in modules if m != "__future__"):
            assert not any(part.startswith("_") for part in module.split(".")), module
            assert module.split(".")[0] not in scripts, f"{path.name} imports script {module}"
        assert not [n for n in names if n.startswith("_")], f"{path.name}: {names}"


def test_the_checks_would_catch_a_bad_script():
    assert RUN_FILES.findall('folder / "metrics.jsonl"') == ["metrics.jsonl"]
    assert RUN_FILES.findall("cp $run/results.json out/") == ["results.json"]
    assert not RUN_FILES.findall("OUT/train-results.json")
