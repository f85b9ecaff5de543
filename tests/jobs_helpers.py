"""A training stand-in for the worker-process tests: importable by spawned workers."""

import os
import time
from pathlib import Path


def write_pid_and_wait(config, log):
    """Write this worker's pid beside the run's folder, then run far longer than any test."""
    Path(f"{config.out}.pid").write_text(str(os.getpid()))
    time.sleep(300)
    return {}
