"""`maxl.fit`: the whole method (or a baseline) on the user's own backbone and data, through the
same engine, checkpoints, metrics and records as `maxl train`."""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from maxl.assembly import default_out_dir
from maxl.assembly import train as train_run
from maxl.callbacks import Callback
from maxl.config import TrainConfig, field_types
from maxl.data.dataset import ImageDataset
from maxl.data.npz import dataset_from_arrays
from maxl.data.stream_scan import streamed_dataset
from maxl.data.streamed import check_streamable
from maxl.errors import MaxlError
from maxl.trained import TrainedModel, load
from maxl.types import Log

Data = Sequence[Any] | torch.utils.data.Dataset
NOT_OPTIONS = ("dataset", "method", "psi", "out", "backbone", "data_dir", "resume")


@dataclass(frozen=True)
class FitResult:
    """What maxl.fit returns: the primary test accuracy (0..1), the run folder, results.json and
    the trained model (`model.predict(x)` on inputs given as to fit). The others: `AssembledRun`
    is a run's live objects while it trains, `FitState` the read-only view of them that
    callbacks get, `SavedRun` a run folder read back from disk."""

    test_accuracy: float
    out: Path
    results: dict[str, Any]
    model: TrainedModel


def fit(
    backbone: nn.Module | Callable[[], nn.Module],
    train: Data,
    test: Data,
    *,
    val: Data | None = None,
    psi: Sequence[int] | int | None = None,
    method: str = "maxl",
    out: str | Path | None = None,
    progress: bool = True,
    log: Log | None = None,
    callbacks: Sequence[Callback] = (),
    stream: bool | None = None,
    workers: int | None = None,
    **options: Any,
) -> FitResult:
    """Train `method` with `backbone` as the shared trunk of both networks on `train`, test on
    `test`; every TrainConfig setting is a keyword (epochs=10, lr=0.05, schedule="batches").

    backbone: an nn.Module mapping x -> features [N, D] (D is found by one forward), used as
    the multi-task trunk, the generator getting a deep copy; or a zero-argument callable that
    returns a fresh one, called once per network under the run's seed. train/test: tensors
    (x, y) or (x, y, fine), or a torch Dataset of such tuples; x images [N, C, H, W] (uint8, or
    float: in 0..1 scaled to uint8, other floats kept as given) or feature vectors [N, D].
    `fine` gives method="human" its labels and ψ. val: your own validation split (x, y),
    scored every epoch: the run keeps best.pt and `early_stop=N` can end it (instead of
    `val_fraction`, a seeded share of train).
    `callbacks` (maxl.Callback) run at each epoch's end after the built-in ones.
    stream: read the inputs from the Dataset batch by batch in `workers` DataLoader processes
    (default: one per core beyond two, up to 4) instead of loading them, so that data larger
    than memory trains and the Dataset's random transforms are drawn anew every epoch; None
    (default): stream a training Dataset that would fill more than a quarter of free memory.
    progress: a progress bar where output is a terminal or notebook, and a line per epoch
    (False: silent). log: where those lines go (default: print).
    """
    config = fit_config(method, psi, out, {"progress": progress, **options})
    log = log if log is not None else (print if progress else None)
    if streams(train, stream, log):
        dataset = streamed_dataset(
            stream_sources(train, test, val), config.seed, worker_count(workers)
        )
    else:
        dataset = as_dataset(train, test, val)
    factory = backbone_factory(backbone, dataset.x_train[:2])
    config = dataclasses.replace(config, out=config.out or default_out_dir(config))
    results = train_run(config, log, dataset=dataset, backbone=factory, callbacks=callbacks)
    assert config.out is not None
    model = load(config.out, backbone=lambda: factory()[0])
    return FitResult(float(results["test_accuracy"]), Path(config.out), results, model)


def streams(train: Data, stream: bool | None, log: Log | None) -> bool:
    """Stream the data? As asked, else when a training Dataset's inputs would take more than
    a quarter of the free memory (said in one line)."""
    if stream is not None:
        if not isinstance(stream, bool):
            raise MaxlError(f"maxl.fit: stream must be True, False or None, got {stream!r}")
        return stream
    if not isinstance(train, torch.utils.data.Dataset) or isinstance(train, (tuple, list)):
        return False
    needed, free = dataset_bytes(train), free_memory()
    if needed is None or free is None or needed <= free / 4:
        return False
    if log is not None:
        log(
            f"streaming the training Dataset: its inputs take about {needed / 2**30:.1f} GiB, "
            f"more than a quarter of the {free / 2**30:.1f} GiB of free memory "
            "(stream=False loads them whole)"
        )
    return True


def dataset_bytes(data: torch.utils.data.Dataset) -> int | None:
    """The memory a Dataset's inputs would take loaded: its length times the first's size."""
    try:
        first = data[0][0]
        return (
            len(data)  # type: ignore[arg-type]  # a Dataset without len lands in the except
            * np.asarray(first.detach().cpu() if isinstance(first, torch.Tensor) else first).nbytes
        )
    except Exception:  # a Dataset that cannot say is loaded as before, with its own errors
        return None


def free_memory() -> int | None:
    """Bytes of memory available now (None where the system does not say)."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def worker_count(workers: int | None) -> int:
    """DataLoader workers: as given (0: read in this process), else one per core beyond two,
    up to 4 (benchmarks/streaming.py: on 2 cores, workers beside training only slow it)."""
    if workers is None:
        return max(0, min(4, (os.cpu_count() or 1) - 2))
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise MaxlError(f"maxl.fit: workers must be a whole number >= 0, got {workers!r}")
    return workers


def stream_sources(
    train: Data, test: Data, val: Data | None
) -> dict[str, torch.utils.data.Dataset]:
    """The splits as Datasets to stream: Datasets as given, tensors wrapped."""
    splits = {"train": train, "test": test, **({"val": val} if val is not None else {})}
    sources = {}
    for split, data in splits.items():
        if isinstance(data, (tuple, list)):
            parts = split_parts(data, split)
            data = torch.utils.data.TensorDataset(*(torch.from_numpy(part) for part in parts))
        sources[split] = check_streamable(data, split)
    return sources


def fit_config(
    method: str, psi: Sequence[int] | int | None, out: str | Path | None, options: dict[str, Any]
) -> TrainConfig:
    """A TrainConfig from fit's keywords, each typed like the field; unknown keys are errors."""
    allowed = [name for name in field_types() if name not in NOT_OPTIONS]
    for key in options:
        if key not in allowed:
            raise MaxlError(f"maxl.fit has no option {key!r}; the options are {', '.join(allowed)}")
    values = {**options, "dataset": "tensors", "method": method, "out": out}
    if psi is not None:
        values["psi"] = [psi] if isinstance(psi, int) else list(psi)
    return TrainConfig.from_mapping(values, "maxl.fit")


def as_dataset(train: Data, test: Data, val: Data | None = None) -> ImageDataset:
    """The splits as one in-memory dataset, converted exactly as an .npz of them would be."""
    arrays: dict[str, np.ndarray] = {}
    splits = [("train", train), ("test", test)] + ([("val", val)] if val is not None else [])
    for split, data in splits:
        parts = split_parts(data, split)
        if split == "val" and len(parts) != 2:
            raise MaxlError("maxl.fit: give val=(x, y); validation needs no fine labels")
        arrays[f"x_{split}"], arrays[f"y_{split}"] = parts[0], parts[1]
        if len(parts) == 3:
            arrays[f"fine_{split}"] = parts[2]
    if ("fine_train" in arrays) != ("fine_test" in arrays):
        raise MaxlError(
            "maxl.fit: only one of train and test has fine labels; give (x, y, fine) for both "
            "or for neither"
        )
    return dataset_from_arrays(arrays, "tensors", "maxl.fit")


def split_parts(data: Data, split: str) -> list[np.ndarray]:
    """(x, y) or (x, y, fine) of one split as numpy arrays, from tensors or a Dataset."""
    fix = f"give {split}=(x, y) or (x, y, fine) tensors, or a Dataset of such tuples"
    if isinstance(data, torch.utils.data.Dataset) and not isinstance(data, (tuple, list)):
        try:
            items = [data[i] for i in range(len(data))]  # type: ignore[arg-type]
        except TypeError:
            raise MaxlError(f"maxl.fit: {split} is a Dataset without len(); {fix}") from None
        if not items:
            raise MaxlError(f"maxl.fit: {split} is empty; {fix}")
        if not all(isinstance(item, (tuple, list)) and len(item) in (2, 3) for item in items):
            raise MaxlError(f"maxl.fit: {split} yields {type(items[0]).__name__}s; {fix}")
        if len({len(item) for item in items}) != 1:
            raise MaxlError(f"maxl.fit: {split} mixes (x, y) and (x, y, fine) items; {fix}")
        columns = list(zip(*items, strict=True))
        return [np.stack([to_numpy(v, split) for v in column]) for column in columns]
    if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
        raise MaxlError(f"maxl.fit: {split} is a {type(data).__name__}; {fix}")
    parts = [to_numpy(part, split) for part in data]
    if any(len(p) != len(parts[0]) for p in parts):
        raise MaxlError(
            f"maxl.fit: {split} parts have {[len(p) for p in parts]} rows; give one label per input"
        )
    return parts


def to_numpy(value: Any, split: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, (int, np.integer)):
        return np.asarray(value)
    if isinstance(value, np.ndarray):
        return value
    raise MaxlError(
        f"maxl.fit: {split} holds a {type(value).__name__}; give tensors or numpy arrays"
    )


def backbone_factory(
    backbone: nn.Module | Callable[[], nn.Module], sample: torch.Tensor
) -> Callable[[], tuple[nn.Module, int]]:
    """The engine's backbone factory: the given module first, then deep copies of it (or a
    fresh module per call from a callable), each with D found by one forward on `sample`."""
    given = backbone if isinstance(backbone, nn.Module) else None
    if given is None and not callable(backbone):
        raise MaxlError(
            f"maxl.fit: backbone is a {type(backbone).__name__}; give an nn.Module or a "
            "zero-argument callable that returns one"
        )
    calls = {"n": 0}
    x = sample.float() if sample.is_floating_point() else sample.float() / 255

    def make() -> tuple[nn.Module, int]:
        calls["n"] += 1
        if given is not None:
            module = given if calls["n"] == 1 else copy.deepcopy(given)
        else:
            module = backbone()
            if not isinstance(module, nn.Module):
                raise MaxlError(
                    f"maxl.fit: the backbone callable returned a {type(module).__name__}, "
                    "not an nn.Module"
                )
        return module, feature_dim(module, x)

    return make


@torch.no_grad()
def feature_dim(module: nn.Module, x: torch.Tensor) -> int:
    """D of a backbone's [N, D] output on x (eval mode, without touching its statistics)."""
    mode = module.training
    module.eval()
    try:
        device = next((p.device for p in module.parameters()), torch.device("cpu"))
        out = module(x.to(device))
    except MaxlError:
        raise
    except Exception as error:
        raise MaxlError(
            f"maxl.fit: the backbone fails on inputs of shape {tuple(x.shape)} "
            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}); "
            "make it accept the data's inputs"
        ) from error
    finally:
        module.train(mode)
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or len(out) != len(x):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise MaxlError(
            f"maxl.fit: the backbone must map x [N, ...] to features [N, D], got {shape}; "
            "end it with a flatten (or pooling) to one vector per input"
        )
    return int(out.shape[1])
