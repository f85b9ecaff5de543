"""maxl.jobs: several trainings at once give the same numbers as one at a time."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from maxl.cli import main
from maxl.config import TrainConfig
from maxl.errors import MaxlError
from maxl.jobs import RunPool
from maxl.step import NonFiniteLoss


@pytest.fixture
def digits_npz(tmp_path):
    x, y = load_digits(return_X_y=True)
    images = (x.reshape(-1, 8, 8) * 16).clip(0, 255).astype(np.uint8)
    path = tmp_path / "digits.npz"
    np.savez(path, x_train=images[:300], y_train=y[:300] // 5, x_test=images[1500:],
             y_test=y[1500:] // 5, fine_train=y[:300], fine_test=y[1500:])  # fmt: skip
    return path


def compare(path, out, jobs):
    args = ["compare", "--dataset", f"npz:{path}", "--methods", "single,random,maxl"]
    args += ["--seeds", "0,1", "--epochs", "2", "--batch-size", "50", "--analysis-size", "16"]
    args += ["--jobs", str(jobs), "--threads", "1", "--no-progress", "--out", str(out)]
    assert main(args) == 0
    return (out / "summary.csv").read_text()


def test_two_jobs_give_the_summary_of_one(digits_npz, tmp_path, capfd):
    one = compare(digits_npz, tmp_path / "one", jobs=1)
    two = compare(digits_npz, tmp_path / "two", jobs=2)
    assert one == two
    assert "[two/maxl-seed1] epoch   2/2" in capfd.readouterr().out  # workers' lines named
    for method in ("single", "random", "maxl"):
        first, second = (metrics(tmp_path / run / f"{method}-seed1") for run in ("one", "two"))
        assert first == second


def metrics(folder):
    """Every metric of every epoch but the timings."""
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if not k.endswith("_time_s")} for r in records]


def test_a_diverged_run_comes_back_as_its_error():
    def train(config, log):
        if config.seed == 1:
            raise NonFiniteLoss("loss is nan at step 3")
        return {"seed": config.seed}

    outcomes = RunPool(train).run([TrainConfig(seed=0), TrainConfig(seed=1)], log=print)
    assert outcomes[0] == {"seed": 0}
    assert isinstance(outcomes[1], NonFiniteLoss) and "step 3" in str(outcomes[1])


@pytest.mark.parametrize("jobs, threads", [(0, None), (1, 0)])
def test_bad_counts_are_one_clear_error(jobs, threads):
    with pytest.raises(MaxlError, match="at least 1"):
        RunPool(lambda c, log: {}, jobs, threads)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states in /proc")
def test_workers_exit_when_the_comparison_is_killed(tmp_path):
    """kill -9 of the parent leaves no worker training on (it would hold the cores for hours)."""
    script = (
        "from pathlib import Path; from maxl.config import TrainConfig; "
        "from maxl.jobs import RunPool; from jobs_helpers import write_pid_and_wait; "
        f"out = Path({str(tmp_path)!r}); "
        "configs = [TrainConfig(seed=s, out=out / f'run{s}') for s in (0, 1)]; "
        "RunPool(write_pid_and_wait, jobs=2, threads=1).run(configs, log=print)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])}
    parent = subprocess.Popen([sys.executable, "-c", script], env=env, stderr=subprocess.PIPE)
    try:
        pid_files = [tmp_path / f"run{s}.pid" for s in (0, 1)]

        def started() -> bool:
            assert parent.poll() is None, parent.communicate()[1].decode()  # why it stopped
            return all(f.exists() and f.read_text() for f in pid_files)

        wait_for(started, seconds=120)
        workers = [int(f.read_text()) for f in pid_files]
    finally:
        parent.kill()
        parent.wait()
    try:
        wait_for(lambda: not any(alive(pid) for pid in workers), seconds=20)
    finally:
        for pid in filter(alive, workers):  # a failed test leaves nothing running either
            os.kill(pid, signal.SIGKILL)


def wait_for(condition, seconds):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not true after {seconds} s"
        time.sleep(0.2)


def alive(pid):
    """Is `pid` a running process (not a zombie waiting for its parent to read it)?"""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
