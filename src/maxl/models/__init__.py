"""Backbones, the multi-task network, the label generator and the k-means autoencoder."""

from maxl.models.autoencoder import ConvAutoencoder
from maxl.models.generator import LabelGenerator
from maxl.models.multitask import MultiTaskNet

__all__ = ["ConvAutoencoder", "LabelGenerator", "MultiTaskNet"]
