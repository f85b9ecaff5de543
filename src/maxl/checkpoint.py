"""Checkpoints: everything a run needs to continue exactly where it stopped, in OUT/checkpoint.pt.

Written atomically (temporary file + rename), so a run killed while writing leaves the previous
checkpoint whole; read with torch.load(weights_only=True), so it holds only tensors and plain
containers. It carries a fingerprint of the settings that decide the result: resuming with
other settings is refused, naming the fields that differ.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from maxl.config import TrainConfig
from maxl.data.streamed import Inputs
from maxl.errors import MaxlError
from maxl.fit_state import FitState
from maxl.run_folder import checkpoint_path, results_path, write_atomic

FORMAT = 1
# Settings that do not change the numbers a run computes (or only where it runs them), so a
# resumed run may change them: a longer run, another evaluation rhythm or analysis sample,
# folder or device.
MAY_DIFFER = (
    "epochs",
    "eval_every",
    "analysis_size",
    "device",
    "data_dir",
    "out",
    "progress",
    "resume",
    "tensorboard",
)


USER_BACKBONE = "user:"  # prefix of a user's own backbone's class name in the input spec


def input_spec(
    x_train: Inputs,
    mean: torch.Tensor,
    std: torch.Tensor,
    num_primary: int,
    num_aux: int,
    backbone: str,
    float_scale: float | None = None,
) -> dict[str, Any]:
    """What rebuilding the network and converting raw inputs takes, for the checkpoint
    (`float_scale`: the factor that made float training images uint8, None if none did)."""
    return {
        "float_scale": float_scale,
        "features": bool(x_train.dim() == 2),
        "dtype": str(x_train.dtype).removeprefix("torch."),  # uint8 or float32 images
        "shape": list(x_train.shape[1:]),
        "mean": mean.detach().cpu().float(),
        "std": std.detach().cpu().float(),
        "num_primary": int(num_primary),
        "num_aux": int(num_aux),
        "backbone": backbone,
    }


def fingerprint(config: TrainConfig) -> dict[str, Any]:
    """The settings a checkpoint must share with the run that resumes it (--epochs too under
    the cosine schedule, whose every rate depends on it)."""
    may_differ = [k for k in MAY_DIFFER if not (k == "epochs" and config.lr_schedule == "cosine")]
    return {k: v for k, v in config.to_json().items() if k not in may_differ}


def run_state(run: FitState) -> dict[str, Any]:
    """Both networks, both optimisers and schedules, the method's own state and every RNG."""
    state_dict = getattr(run.method, "state_dict", None)
    device = run.y_train.device
    return {
        "net": run.net.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "method": state_dict() if callable(state_dict) else {},
        "rng": {
            "run": run.rng.get_state(),
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        },
    }


def restore_run(run: FitState, state: dict[str, Any], path: Path) -> None:
    """Load a checkpoint's run_state into a freshly built run of the same configuration."""
    try:
        run.net.load_state_dict(state["net"])
        run.optimizer.load_state_dict(state["optimizer"])
        run.scheduler.load_state_dict(state["scheduler"])
        if state["method"]:
            run.method.load_state_dict(state["method"])  # type: ignore[attr-defined]
        rng = state["rng"]
        run.rng.set_state(rng["run"])
        torch.set_rng_state(rng["torch"])
        if rng["cuda"] is not None and run.y_train.device.type == "cuda":
            torch.cuda.set_rng_state(rng["cuda"], run.y_train.device)
    except (KeyError, RuntimeError, ValueError, TypeError, AttributeError) as error:
        raise MaxlError(
            f"{path} does not fit this run's networks ({first_line(error)}); it was written "
            "for other data or code: start a new run with another --out"
        ) from error


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write the checkpoint atomically: the old one stays whole until the new one is complete."""
    write_atomic(path, lambda handle: torch.save({"format": FORMAT, **state}, handle))


def load_checkpoint(path: Path, config: TrainConfig) -> dict[str, Any]:
    """Read a checkpoint for `config` (tensors on the CPU), or say clearly why it cannot be."""
    fresh = "start afresh without --resume (or with another --out)"
    if not path.is_file():
        raise MaxlError(f"--resume: there is no checkpoint {path}; {fresh}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as error:
        raise MaxlError(
            f"cannot read checkpoint {path} ({error.strerror or error}); check its permissions"
        ) from error
    except (RuntimeError, EOFError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile) as e:
        # torch's own text may suggest weights_only=False: unsafe, and no cure for a bad file
        raise MaxlError(
            f"checkpoint {path} is corrupt or truncated (torch.load cannot read it; --debug "
            f"shows why); delete it and {fresh}"
        ) from e
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise MaxlError(f"{path} is not a checkpoint of this maxl version; {fresh}")
    defaults = TrainConfig().to_json()  # a setting newer than the checkpoint: its default
    differences = [
        f"{key}: {state['config'].get(key, defaults[key])!r} there, {value!r} here"
        for key, value in fingerprint(config).items()
        if state["config"].get(key, defaults[key]) != value
    ]
    if differences:
        raise MaxlError(
            f"checkpoint {path} is from a run with other settings ({'; '.join(differences)}); "
            "resume with the same settings, or give a new run another --out"
        )
    if state["epoch"] > config.epochs:
        raise MaxlError(
            f"checkpoint {path} has already trained {state['epoch']} epochs, more than "
            f"--epochs {config.epochs}; pass --epochs {state['epoch']} or more"
        )
    return state


def refuse_to_overwrite(out: Path) -> None:
    """`maxl train` without --resume must not overwrite the checkpoint of an unfinished run.
    (The Python API and `maxl compare` start such a run afresh: their callers decide.)"""
    if checkpoint_path(out).exists() and not results_path(out).exists():
        raise MaxlError(
            f"{out} holds the checkpoint of an unfinished run; continue it with --resume, or "
            "start this run with another --out"
        )


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
