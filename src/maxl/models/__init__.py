"""Backbones, the multi-task network and the label generator."""

from maxl.models.backbones import BACKBONE_NAMES, build_backbone
from maxl.models.generator import LabelGenerator
from maxl.models.multitask import MultiTaskNet

__all__ = ["BACKBONE_NAMES", "LabelGenerator", "MultiTaskNet", "build_backbone"]
