"""Several trainings at once (`maxl compare --jobs N`): each in a process of its own with a
fixed number of threads, so that a run's numbers do not depend on what runs beside it.

`jobs=1` trains in this process, one run after another (with `threads` set for the duration
when given). A run that diverges (NonFiniteLoss) comes back as that error instead of a result,
so a tuning grid can score it and go on. A worker whose parent has gone (killed, not stopped
with Ctrl-C) exits within a second instead of training on unwatched; its run resumes from its
last checkpoint."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import torch

from maxl.config import TrainConfig
from maxl.errors import MaxlError
from maxl.step import NonFiniteLoss
from maxl.types import Log

TrainFn = Callable[[TrainConfig, Log], dict[str, Any]]
Outcome = dict[str, Any] | NonFiniteLoss  # a run's results, or why it stopped


def available_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class RunPool:
    """How to run many trainings: `train_fn` for each, `jobs` at once, `threads` per run
    (default: the cores shared out among the jobs; with one job, torch's own setting)."""

    train_fn: TrainFn
    jobs: int = 1
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.jobs < 1:
            raise MaxlError(f"--jobs {self.jobs} must be at least 1")
        if self.threads is not None and self.threads < 1:
            raise MaxlError(f"--threads {self.threads} must be at least 1")

    def threads_per_run(self) -> int | None:
        if self.threads is not None or self.jobs == 1:
            return self.threads
        return max(1, available_cores() // self.jobs)

    def run(self, configs: Sequence[TrainConfig], log: Log) -> list[Outcome]:
        """Each configuration's outcome, in the order given."""
        threads = self.threads_per_run()
        if self.jobs == 1 or len(configs) <= 1:
            with thread_count(threads):
                return [train_one(self.train_fn, config, log) for config in configs]
        context = multiprocessing.get_context("spawn")  # no fork of a process that ran torch
        workers = min(self.jobs, len(configs))
        with ProcessPoolExecutor(
            workers, context, initializer=start_worker, initargs=(threads, os.getpid())
        ) as pool:
            futures = [
                pool.submit(train_one, self.train_fn, config, PrefixedLog(run_name(config)))
                for config in configs
            ]
            try:
                return [future.result() for future in futures]
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)  # no queued run starts
                raise


def train_one(train_fn: TrainFn, config: TrainConfig, log: Log) -> Outcome:
    try:
        return train_fn(config, log)
    except NonFiniteLoss as error:
        return error


def run_name(config: TrainConfig) -> str:
    """The last two parts of the run's folder, to tell interleaved lines apart."""
    if config.out is None:
        return f"{config.method}-seed{config.seed}"
    return "/".join(config.out.parts[-2:])


@dataclass(frozen=True)
class PrefixedLog:
    """print with the run's name in front (picklable, for the worker processes)."""

    prefix: str

    def __call__(self, line: str) -> None:
        print(f"[{self.prefix}] {line}", flush=True)


def start_worker(threads: int | None, parent: int) -> None:
    """A worker process: its thread count, warnings as one line (as the CLI shows them), and
    an exit when the process `parent` that started it is gone."""
    if threads is not None:
        torch.set_num_threads(threads)
    warnings.showwarning = show_one_line
    threading.Thread(target=exit_without, args=(parent, 1.0), daemon=True).start()


def exit_without(parent: int, every_s: float) -> None:
    """Check every `every_s` seconds that `parent` is still this process's parent; exit when not
    (an orphan is adopted by another process), so a killed comparison leaves no run behind."""
    while os.getppid() == parent:
        time.sleep(every_s)
    os._exit(1)


def show_one_line(message: Warning | str, *_: Any, **__: Any) -> None:
    """A warning as one line on stderr, like the errors: `maxl: warning: ...`."""
    print(f"maxl: warning: {message}", file=sys.stderr)


@contextlib.contextmanager
def thread_count(threads: int | None) -> Iterator[None]:
    """torch's intra-op thread count set to `threads` for the duration (None: unchanged)."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
