"""The rows of `maxl bench` and their data. An `epochs` iteration is one multi-task step and one
generator step of the separate pass, so that its ratio compares with the fused one's: both
schedules take one generator step per multi-task step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from maxl.config import TrainConfig
from maxl.data.dataset import ImageDataset
from maxl.errors import MaxlError

# Each row and what it changes in MAXL's settings (`light`: the light generator's trunk).
VARIANTS: dict[str, dict[str, Any]] = {
    "single": {"method": "single"},
    "human": {"method": "human"},
    "exact": {},
    "finite-difference": {"hypergrad": "finite-difference"},
    "implicit": {"hypergrad": "implicit"},
    "exact-epochs": {"schedule": "epochs"},
    "exact-depth1": {"meta_depth": 1},
    "exact-light": {"light": True},
    "exact-depth1-light": {"meta_depth": 1, "light": True},
    "exact-epochs-depth1-light": {"schedule": "epochs", "meta_depth": 1, "light": True},
}


@dataclass(frozen=True)
class BenchConfig:
    """What to time: backbone, batch and image shape, rounds, device and MAXL's options."""

    backbone: str = "small-cnn"
    batch_size: int = 100
    image_size: int = 28
    channels: int = 1
    iterations: int = 10
    warmup: int = 2
    device: str = "auto"
    precision: str = "fp32"
    meta_every: int = 1
    num_primary: int = 20
    aux_per_class: int = 5
    light_generator: str | None = None  # the light rows' generator trunk (light_generator_name)


def light_generator_name(bench: BenchConfig) -> str:
    """The trunk of the light-generator rows: --light-generator, else the small CNN (the mlp
    when the network is the small CNN itself)."""
    if bench.light_generator is not None:
        return bench.light_generator
    return "mlp" if bench.backbone == "small-cnn" else "small-cnn"


def train_config(bench: BenchConfig, variant: str) -> TrainConfig:
    """The training settings of one variant: paper defaults, the bench's shape and device."""
    settings = dict(VARIANTS[variant])
    if settings.pop("light", False):
        settings["gen_backbone"] = light_generator_name(bench)
    defaults: dict[str, Any] = {"method": "maxl", "hypergrad": "exact", "schedule": "batches"}
    return TrainConfig(
        dataset="random",
        backbone=bench.backbone,
        batch_size=bench.batch_size,
        device=bench.device,
        precision=bench.precision,
        meta_every=bench.meta_every,
        progress=False,
        **{**defaults, **settings},
    )


def describe(bench: BenchConfig, variant: str) -> str:
    """A row's name in the table, e.g. 'maxl (exact, epochs schedule, depth 1, mlp generator)'."""
    config = train_config(bench, variant)
    if config.method != "maxl":
        return config.method
    parts = [config.hypergrad]
    if config.hypergrad == "implicit":
        parts.append(f"J = {config.neumann_terms}")
    if config.schedule == "epochs":
        parts.append("epochs schedule")
    if config.meta_depth is not None:
        parts.append(f"depth {config.meta_depth}")
    if config.gen_backbone is not None:
        parts.append(f"{config.gen_backbone} generator")
    return f"maxl ({', '.join(parts)})"


def random_dataset(bench: BenchConfig) -> ImageDataset:
    """Random uint8 images with nested random labels: primary = fine // aux_per_class."""
    if min(bench.batch_size, bench.image_size, bench.channels, bench.iterations) < 1:
        raise MaxlError("--batch-size, --image-size, --channels and --iterations must be >= 1")
    g = torch.Generator().manual_seed(0)
    num_fine = bench.num_primary * bench.aux_per_class
    n = max(bench.batch_size, num_fine)  # every fine class present, so ψ is the same for all
    shape = (n, bench.channels, bench.image_size, bench.image_size)
    fine = torch.cat([torch.arange(num_fine), torch.randint(0, num_fine, (n,), generator=g)])[:n]
    levels = {str(bench.num_primary): fine // bench.aux_per_class, str(num_fine): fine}
    return ImageDataset(
        name="random",
        x_train=torch.randint(0, 256, shape, dtype=torch.uint8, generator=g),
        x_test=torch.randint(0, 256, shape, dtype=torch.uint8, generator=g),
        labels_train=levels,
        labels_test=levels,
        default_level=str(bench.num_primary),
        flip=True,
        class_names={},
    )
