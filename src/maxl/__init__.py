"""maxl: Meta AuXiliary Learning, auxiliary labels learned by a meta-gradient for any classifier."""

from maxl.errors import MaxlError
from maxl.hierarchy import Hierarchy, hierarchy_from_labels, mask_softmax
from maxl.hypergrad import generator_hypergradient
from maxl.losses import entropy_regulariser, focal_loss

__all__ = [
    "Hierarchy",
    "MaxlError",
    "entropy_regulariser",
    "focal_loss",
    "generator_hypergradient",
    "hierarchy_from_labels",
    "mask_softmax",
]
