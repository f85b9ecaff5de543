"""Where the auxiliary labels come from: one module per baseline of the paper. (Names become
these objects in maxl.assembly.)"""

from maxl.methods.base import AuxiliaryLabels
from maxl.methods.human import HumanLabels
from maxl.methods.kmeans import KMeansLabels
from maxl.methods.maxl import LearnedLabels
from maxl.methods.random_labels import RandomLabels
from maxl.methods.single import SingleTask

__all__ = [
    "AuxiliaryLabels",
    "HumanLabels",
    "KMeansLabels",
    "LearnedLabels",
    "RandomLabels",
    "SingleTask",
]
