"""The settings of one training run; defaults are the paper's (DESIGN §1) on a CPU backbone."""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from maxl.errors import MaxlError

PRECISIONS = ("fp32", "bf16")
SCHEDULES = ("epochs", "batches")
GEN_OPTIMIZERS = ("sgd", "adam")
OPTIMIZERS = ("sgd", "adamw")
LR_SCHEDULES = ("step", "cosine")
# The fields that name or place a run (which method and seed, where, on which data and device)
# rather than set how it trains: tuning grids and sweeps never vary them.
NOT_VARIED = ("method", "seed", "out", "resume", "progress", "device", "data_dir", "dataset")


def option(default: Any, help: str) -> Any:
    """A TrainConfig field and its help text (the command line's options are built from these)."""
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a run. Paper defaults, except the CPU-sized backbone."""

    dataset: str = option(
        "fashion-mnist",
        "fashion-mnist, cifar10, cifar100, mnist, svhn, cinic10, digits, npz:PATH for your own "
        "arrays or folder:PATH for your own image tree",
    )
    method: str = option(
        "maxl",
        "where auxiliary labels come from: none (single), a fixed random class per image "
        "(random), k-means clusters of autoencoder codes (kmeans), the dataset's finer labels "
        "(human) or a learned generator (maxl)",
    )
    primary_level: str | None = option(
        None,
        "hierarchy level used as the primary task, named by its class count (fashion-mnist: 2, "
        "6, 10; cifar100: 3, 10, 20, 100; digits: 2, 10); default: the dataset's usual labels",
    )
    aux_level: str | None = option(
        None,
        "finer level whose classes are the human auxiliary labels and set ψ "
        "(default: the finest level)",
    )
    psi: tuple[int, ...] | None = option(
        None,
        "auxiliary classes per primary class: one number for all, or one per class (3,1,2); "
        "default: the human hierarchy when there is one, else 5 each",
    )
    backbone: str = option("small-cnn", "shared trunk of both networks (vgg16 is the paper's)")
    gen_backbone: str | None = option(
        None,
        "the label generator's trunk, e.g. one lighter than --backbone's (default: the same as "
        "--backbone, as in the paper)",
    )
    hypergrad: str = option(
        "exact",
        "generator gradient: exact second order, the first-order central difference, or "
        "implicit (the implicit function theorem, Neumann series)",
    )
    neumann_terms: int = option(
        3,
        "--hypergrad implicit: Hessian-vector products J of the Neumann series; 0 is the "
        "one-step formula at θ",
    )
    schedule: str = option(
        "epochs",
        "epochs (the paper's): every epoch a pass of multi-task steps, then a pass of generator "
        "steps; batches: per batch the multi-task step, then a generator step that reuses its "
        "work",
    )
    meta_data: str = option(
        "same",
        "the batch of MAXL's meta objective: same (the inner step's, the paper's), next "
        "(another training batch), or holdout:F (a seeded fraction F of the training images, "
        "used only for the meta objective)",
    )
    meta_depth: int | None = option(
        None,
        "MAXL's meta-gradient flows through the top K blocks of the trunk (and the heads) only: "
        "the features below are computed once per meta step, without a graph, and the step θ⁺ "
        "leaves those blocks as they are (default: all blocks, the exact hypergradient)",
    )
    meta_every: int = option(
        1,
        "train the generator on every K-th iteration (or batch of the generator pass) only; 1 "
        "is the paper's",
    )
    precision: str = option("fp32", "bf16: bfloat16 autocast where the device supports it")
    epochs: int = option(200, "training epochs")
    eval_every: int = option(
        1, "evaluate on the test set every this many epochs, and after the last"
    )
    analysis_size: int = option(
        256,
        "training images on which each epoch measures the gradient cosine and the auxiliary "
        "labels' entropy, usage and NMI with human labels; 0 turns it off",
    )
    batch_size: int = option(100, "images per (global) batch")
    optimizer: str = option("sgd", "the multi-task network's optimiser: sgd (the paper's) or adamw")
    lr: float = option(0.01, "multi-task learning rate, also the meta step size α")
    momentum: float = option(
        0.0, "multi-task SGD momentum (0 as in the paper); with adamw its β₁ when above 0"
    )
    weight_decay: float = option(
        0.0, "multi-task weight decay (0 as in the paper; decoupled with adamw)"
    )
    lr_schedule: str = option(
        "step",
        "step: both learning rates times --lr-gamma every --lr-step epochs (the paper's); "
        "cosine: both annealed to 0 over --epochs",
    )
    gen_optimizer: str = option("sgd", "the generator's optimiser: sgd (the paper's) or adam")
    gen_lr: float = option(1e-3, "generator learning rate")
    gen_momentum: float = option(
        0.0, "generator SGD momentum; with adam its β₁ when above 0, else 0.9"
    )
    gen_weight_decay: float = option(5e-4, "generator weight decay")
    lr_step: int = option(50, "multiply both learning rates by --lr-gamma every this many epochs")
    lr_gamma: float = option(0.5, "factor of the step schedule of both learning rates")
    aux_weight: float = option(1.0, "weight of the auxiliary loss")
    entropy_weight: float = option(0.2, "weight λ of the generator's entropy regulariser")
    confidence_weight: float = option(
        0.0,
        "weight λ_c of the mean per-image entropy of the generated labels in MAXL's meta "
        "objective: above 0 asks for confident labels per image (0: the paper's)",
    )
    focal_gamma: float = option(2.0, "focal-loss γ; 0 is cross-entropy")
    augment: bool = option(True, "turn off random crops and flips")
    crop_pad: int | None = option(None, "zero padding of the random crop (default: image size / 8)")
    train_size: int | None = option(
        None, "train on a random subset of this many images, chosen by --seed (default: all)"
    )
    val_fraction: float = option(
        0.0,
        "hold out this seeded fraction of the training images as a validation split, scored "
        "every epoch as val_accuracy (0: none)",
    )
    early_stop: int | None = option(
        None,
        "with a validation split: stop after this many epochs without a better validation "
        "accuracy (default: train every epoch); best.pt keeps the best epoch either way",
    )
    seed: int = option(0, "seeds the subset, initialisation, shuffling and augmentation")
    device: str = option("auto", "cpu, cuda, cuda:1, ...; auto picks CUDA when available")
    data_dir: Path | None = option(
        None,
        "folder with the dataset's files (default: $MAXL_DATA, system folders, the cache)",
    )
    out: Path | None = option(
        None,
        "output folder for metrics.jsonl and results.json (default: runs/DATASET-METHOD-seedSEED)",
    )
    progress: bool = option(True, "hide the progress bar")
    tensorboard: bool = option(
        False,
        "also write every per-epoch metric to OUT/tensorboard/ (needs pip install "
        "'maxl[tensorboard]')",
    )
    image_size: int | None = option(
        None,
        "folder:PATH datasets: resize every image to this square size (default: the size of "
        "the first image)",
    )
    kmeans_epochs: int = option(10, "epochs of the kmeans method's autoencoder")
    kmeans_code_dim: int = option(32, "size of the autoencoder codes that kmeans clusters")
    sync_bn: bool = option(
        False,
        "under torchrun: BatchNorm statistics over the global batch, so N processes compute "
        "what one process computes on the whole batch",
    )
    resume: bool = option(
        False,
        "continue the run in --out from its checkpoint (written every epoch and on Ctrl-C); "
        "the settings must match, except --epochs, --eval-every, --device, --data-dir",
    )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], where: Path | str) -> TrainConfig:
        """The one way loose values (command line, maxl.fit's keywords, a config file) become a
        config: each typed like its field; a bad key or value is a MaxlError naming `where`."""
        return cls(**{key: convert_field(key, value, where) for key, value in values.items()})

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly copy (paths as strings, ψ as a list)."""
        data = asdict(self)
        for key in ("data_dir", "out"):
            data[key] = None if data[key] is None else str(data[key])
        data["psi"] = None if self.psi is None else list(self.psi)
        return data


def parse_meta_data(text: str) -> tuple[str, float | None]:
    """--meta-data: 'same', 'next' or 'holdout:F' -> (kind, F or None); ValueError otherwise."""
    if text in ("same", "next"):
        return text, None
    kind, _, value = text.partition(":")
    if kind == "holdout":
        fraction = float(value)  # ValueError for a missing or bad number
        if 0 < fraction < 1:
            return kind, fraction
    raise ValueError(text)


@functools.cache
def field_types() -> Mapping[str, Any]:
    """Each TrainConfig field's type hint, resolved (the annotations here are strings)."""
    return types.MappingProxyType(typing.get_type_hints(TrainConfig))


def convert_field(name: str, value: Any, where: Path | str) -> Any:
    """`value` typed like TrainConfig's field `name` (for one setting, or one value of a grid);
    an unknown name or a value of the wrong type is a MaxlError naming `where` and the key."""
    hints = field_types()
    if name not in hints:
        raise MaxlError(f"{where}: unknown setting {name!r}; the settings are {', '.join(hints)}")
    return convert_value(value, hints[name], where, name)


def convert_value(value: Any, hint: Any, path: Path | str, key: str) -> Any:
    """Coerce a YAML value to the field's type: '20' and 20 both fit a level name. Errors name
    `path`, the file or option the value came from."""
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    allowed = typing.get_args(hint) if union else (hint,)
    if value is None:
        if type(None) in allowed:
            return None
        raise MaxlError(f"{path}: '{key}' needs a value")
    kinds = [k for k in allowed if k is not type(None)]
    kind = kinds[0]
    origin = typing.get_origin(kind)
    try:
        if origin is tuple:  # ψ
            items = value if isinstance(value, (list, tuple)) else [value]
            return tuple(int(v) for v in items)
        if kind is bool:
            if not isinstance(value, bool):
                raise ValueError
            return value
        if kind is Path:
            return Path(str(value))
        if kind is int and (isinstance(value, bool) or float(value) != int(value)):
            raise ValueError
        return kind(value)
    except (TypeError, ValueError):
        raise MaxlError(
            f"{path}: '{key}' is {value!r}, which is not a {getattr(kind, '__name__', kind)}; "
            "fix the value"
        ) from None
