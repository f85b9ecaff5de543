"""maxl: Meta AuXiliary Learning, auxiliary labels learned by a meta-gradient for any classifier."""

from maxl.api import FitResult, fit
from maxl.callbacks import Callback
from maxl.errors import MaxlError
from maxl.fit_state import FitState
from maxl.hierarchy import Hierarchy, hierarchy_from_labels, mask_softmax
from maxl.hypergrad import MetaSettings, generator_hypergradient
from maxl.labeler import MetaLabeler
from maxl.losses import entropy_regulariser, focal_loss
from maxl.methods.base import AuxiliaryLabels
from maxl.models import LabelGenerator, MultiTaskNet
from maxl.trained import TrainedModel, load

__all__ = [
    "AuxiliaryLabels",
    "Callback",
    "FitResult",
    "FitState",
    "Hierarchy",
    "LabelGenerator",
    "MaxlError",
    "MetaLabeler",
    "MetaSettings",
    "MultiTaskNet",
    "TrainedModel",
    "entropy_regulariser",
    "fit",
    "focal_loss",
    "generator_hypergradient",
    "hierarchy_from_labels",
    "load",
    "mask_softmax",
]
