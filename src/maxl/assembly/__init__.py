"""The assembly layer: the one place where names (datasets, backbones, methods, loggers) become
objects, once, before the engine runs."""

from maxl.assembly.backbones import BACKBONE_NAMES, build_backbone
from maxl.assembly.datasets import KNOWN_DATASETS, load_dataset
from maxl.assembly.methods import METHOD_NAMES, METHODS, BackboneFactory, build_method
from maxl.assembly.run import (
    assemble_run,
    backbone_name,
    build_run,
    check_config,
    default_out_dir,
    resolve_device,
    run_callbacks,
    train,
)

__all__ = [
    "BACKBONE_NAMES",
    "KNOWN_DATASETS",
    "METHODS",
    "METHOD_NAMES",
    "BackboneFactory",
    "assemble_run",
    "backbone_name",
    "build_backbone",
    "build_method",
    "build_run",
    "check_config",
    "default_out_dir",
    "load_dataset",
    "resolve_device",
    "run_callbacks",
    "train",
]
