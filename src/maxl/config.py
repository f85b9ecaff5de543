"""The settings of one training run; defaults are the paper's (DESIGN §1) on a CPU backbone."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PRECISIONS = ("fp32", "bf16")
SCHEDULES = ("epochs", "batches")
GEN_OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a run. Paper defaults, except the CPU-sized backbone."""

    dataset: str = "fashion-mnist"
    method: str = "maxl"
    primary_level: str | None = None
    aux_level: str | None = None
    psi: tuple[int, ...] | None = None
    backbone: str = "small-cnn"
    hypergrad: str = "exact"
    neumann_terms: int = 3  # implicit hypergradient: Neumann terms J
    schedule: str = "epochs"  # the paper's: a multi-task pass, then a generator pass
    meta_data: str = "same"  # L_meta on: same | next | holdout:F
    meta_every: int = 1
    precision: str = "fp32"
    epochs: int = 200
    eval_every: int = 1
    analysis_size: int = 256  # training images the per-epoch analysis looks at; 0: none
    batch_size: int = 100
    lr: float = 0.01
    momentum: float = 0.0
    gen_optimizer: str = "sgd"
    gen_lr: float = 1e-3
    gen_momentum: float = 0.0
    gen_weight_decay: float = 5e-4
    lr_step: int = 50
    lr_gamma: float = 0.5
    aux_weight: float = 1.0
    entropy_weight: float = 0.2
    focal_gamma: float = 2.0
    augment: bool = True
    crop_pad: int | None = None
    train_size: int | None = None
    val_fraction: float = 0.0  # seeded share of the training images held out for validation
    seed: int = 0
    device: str = "auto"
    data_dir: Path | None = None
    out: Path | None = None
    progress: bool = True
    tensorboard: bool = False  # also write the per-epoch metrics to OUT/tensorboard/
    image_size: int | None = None  # folder:PATH datasets: resize every image to this square
    kmeans_epochs: int = 10
    kmeans_code_dim: int = 32
    sync_bn: bool = False  # data-parallel runs: BatchNorm statistics over the global batch
    resume: bool = False  # continue from OUT/checkpoint.pt

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
