"""The trained multi-task network back from a run, with the input conversion the run used:
`result.model` from `maxl.fit`, `maxl.load(RUN_DIR)` from any run folder, `maxl predict`.

A run's checkpoint holds, beside the weights, what turning raw inputs into the network's input
takes (`input_spec`): images or feature vectors, their shape, the normalisation statistics of
the training split, the primary and auxiliary class counts and the backbone's name (or the
class of the user's own backbone, which must then be given again)."""

from __future__ import annotations

import copy
import pickle
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from maxl.assembly.backbones import build_backbone
from maxl.checkpoint import USER_BACKBONE
from maxl.data.batches import to_float
from maxl.data.layout import to_nchw
from maxl.data.npz import as_bytes, image_arrays
from maxl.errors import MaxlError
from maxl.models.multitask import MultiTaskNet
from maxl.run_folder import best_path, checkpoint_path


@dataclass
class TrainedModel:
    """A trained multi-task network in eval mode and its input conversion. `predict(x)` and
    `predict_proba(x)` take inputs as `maxl.fit` took them: feature vectors [N, D], or images
    (N,H,W), (N,H,W,C) or (N,C,H,W), uint8 or float, converted by the rule training used
    (floats in 0..1 scaled to uint8, other floats kept as they are)."""

    net: MultiTaskNet
    spec: dict[str, Any]
    batch_size: int = 256

    def __post_init__(self) -> None:
        self.net.eval()

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def inputs(self, x: Any) -> torch.Tensor:
        """Raw inputs as the run stored them: float32 [N, D], or uint8 (float32) [N, C, H, W]."""
        array = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        shape = tuple(self.spec["shape"])
        if self.spec["features"]:
            if array.ndim != 2 or array.shape[1:] != shape:
                raise MaxlError(
                    f"predict: inputs have shape {array.shape}; this model takes feature "
                    f"vectors (N, {shape[0]})"
                )
            return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
        if array.dtype != np.uint8 and not np.issubdtype(array.dtype, np.floating):
            raise MaxlError(
                f"predict: images have dtype {array.dtype}; give uint8 (0..255) or float images"
            )
        images = self.as_stored_images(to_nchw(array, "x", "predict"))
        if images.shape[1:] != shape:
            raise MaxlError(
                f"predict: images are {tuple(images.shape[1:])} (C, H, W); this model was "
                f"trained on {shape}"
            )
        return torch.from_numpy(np.ascontiguousarray(images))

    def as_stored_images(self, images: np.ndarray) -> np.ndarray:
        """NCHW images converted as the training images were: float32 as given for a model
        trained on float images; for a uint8 model, floats by the factor training used (in
        0..1 for 255, whole numbers in 0..255 for 1), or by the rule when it saw no floats."""
        stored = self.spec.get("dtype", "uint8")
        floating = np.issubdtype(images.dtype, np.floating)
        if stored == "float32":
            if not floating:
                raise MaxlError(
                    f"predict: images are {images.dtype} but the model was trained on float "
                    "images; give floats as they were given to training"
                )
            return images.astype(np.float32)
        if not floating:
            return images
        scale = self.spec.get("float_scale")
        if scale is None:  # trained on uint8 images: judge these floats by the rule
            [converted], scale = image_arrays([images], ["x"], "predict")
            if converted.dtype == np.uint8:
                return converted
        elif (scale == 255.0 and images.min(initial=0) >= 0 and images.max(initial=0) <= 1) or (
            scale == 1.0
            and images.min(initial=0) >= 0
            and images.max(initial=0) <= 255
            and np.array_equal(images, np.rint(images))
        ):
            return as_bytes(images, scale)
        rules = {255.0: "floats in 0..1", 1.0: "whole numbers in 0..255"}
        expected = rules.get(scale, "uint8") if scale is not None else "uint8"
        raise MaxlError(
            f"predict: these float images do not convert as the training images did; the "
            f"model was trained on {expected} (uint8 images are taken as they are)"
        )

    @torch.no_grad()
    def primary_logits(self, x: Any) -> torch.Tensor:
        """The primary head's logits [N, C] (on the CPU), in batches."""
        stored = self.inputs(x) if not is_stored(x, self.spec) else x
        mean, std = self.spec["mean"], self.spec["std"]
        parts = []
        for chunk in stored.split(self.batch_size):
            logits, _ = self.net(to_float(chunk.to(self.device), mean, std))
            parts.append(logits.float().cpu())
        if not parts:
            return torch.empty(0, self.spec["num_primary"])
        return torch.cat(parts)

    def predict(self, x: Any) -> torch.Tensor:
        """Primary class indices [N] (int64)."""
        return self.primary_logits(x).argmax(dim=1)

    def predict_proba(self, x: Any) -> torch.Tensor:
        """Primary class probabilities [N, C]."""
        return self.primary_logits(x).softmax(dim=1)


def is_stored(x: Any, spec: dict[str, Any]) -> bool:
    """Is x already in the run's stored form (uint8 NCHW images or float32 features)?"""
    if not isinstance(x, torch.Tensor) or list(x.shape[1:]) != list(spec["shape"]):
        return False
    return str(x.dtype).removeprefix("torch.") == spec.get("dtype", "uint8") or (
        spec["features"] and x.dtype == torch.float32
    )


BackboneArg = nn.Module | Callable[[], nn.Module] | None


def load(
    run_dir: str | Path,
    backbone: BackboneArg = None,
    *,
    which: str = "last",
    device: str | torch.device = "cpu",
) -> TrainedModel:
    """The trained model of a run folder (`maxl train`, `maxl compare`'s runs, `maxl.fit`):
    `which="last"` (the last epoch) or `"best"` (the epoch of best validation accuracy, for a
    run with a validation split). A run with the user's own backbone needs it again:
    `backbone=` the module (or a zero-argument callable returning one) of the same
    architecture."""
    folder = Path(run_dir)
    if which not in ("last", "best"):
        raise MaxlError(f"maxl.load: which={which!r}; give 'last' or 'best'")
    path = checkpoint_path(folder) if which == "last" else best_path(folder)
    if not path.is_file() and which == "best" and checkpoint_path(folder).is_file():
        raise MaxlError(
            f"{folder} holds no {path.name}: the run had no validation split to choose its best "
            "epoch; load which='last', or train with a validation split"
        )
    if not path.is_file():
        raise MaxlError(f"{folder} holds no {path.name}; give the folder of a run that trained")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError,
            zipfile.BadZipFile) as error:  # fmt: skip
        raise MaxlError(f"{path} is corrupt or unreadable ({type(error).__name__})") from None
    spec = state.get("inputs") if isinstance(state, dict) else None
    if spec is None:
        raise MaxlError(
            f"{path} was written before runs saved their input conversion; train the run again "
            "to load its model"
        )
    trunk = make_backbone(spec, backbone, path)
    net = MultiTaskNet(trunk, feature_dim(trunk, spec), spec["num_primary"], spec["num_aux"])
    try:
        net.load_state_dict(state["net"])
    except RuntimeError as error:
        first = str(error).strip().splitlines()
        raise MaxlError(
            f"the backbone given does not fit the weights in {path} "
            f"({first[1].strip() if len(first) > 1 else first[0]}); give the backbone the run "
            "trained with"
        ) from None
    batch = int(state.get("config", {}).get("batch_size", 256))
    return TrainedModel(net.to(device), spec, batch_size=batch)


def make_backbone(spec: dict[str, Any], given: BackboneArg, path: Path) -> nn.Module:
    """The run's trunk: by name, or the user's (given again) for a run with their own."""
    name = str(spec["backbone"])
    if name.startswith(USER_BACKBONE):
        if given is None:
            raise MaxlError(
                f"{path.parent} was trained with your own backbone "
                f"{name.removeprefix(USER_BACKBONE)}; pass it again: "
                "maxl.load(RUN_DIR, backbone=...)"
            )
        module = copy.deepcopy(given) if isinstance(given, nn.Module) else given()
        if not isinstance(module, nn.Module):
            raise MaxlError(f"maxl.load: backbone gave a {type(module).__name__}, not a module")
        return module
    if given is not None:
        raise MaxlError(
            f"{path.parent} was trained with the built-in backbone {name}; load it without "
            "backbone="
        )
    shape = spec["shape"]
    inputs = int(np.prod(shape)) if name == "mlp" else int(shape[0])
    return build_backbone(name, inputs)


@torch.no_grad()
def feature_dim(trunk: nn.Module, spec: dict[str, Any]) -> int:
    """D of the trunk's features, from its attribute or one forward on zeros of the input shape."""
    declared = getattr(trunk, "feature_dim", None)
    if isinstance(declared, int):
        return declared
    mode = trunk.training
    trunk.eval()
    try:
        out = trunk(torch.zeros(2, *spec["shape"]))
    finally:
        trunk.train(mode)
    return int(out.shape[1])
