"""The data behind a run's report: its dataset loaded again as results.json names it, checked
against aux_labels.npz for the image grids, with its class names and displayable images."""

from __future__ import annotations

import numpy as np

from maxl.data.dataset import ImageDataset
from maxl.errors import MaxlError
from maxl.run_folder import AUX_LABELS, RESULTS, AuxLabels, SavedRun, aux_labels_path


def report_dataset(run: SavedRun) -> ImageDataset | MaxlError | None:
    """The dataset of a finished run with auxiliary labels to show (None otherwise); a failure
    to load it is returned, not raised, so that the report says why the grids are missing."""
    has_labels = aux_labels_path(run.folder).is_file()
    if not (run.finished and (has_labels or any(r.get("aux_usage") for r in run.metrics))):
        return None
    try:
        return load_run_dataset(run)
    except MaxlError as error:
        return error


def load_run_dataset(run: SavedRun) -> ImageDataset:
    """The run's dataset, as its config names it; any failure is a MaxlError (grids skipped)."""
    from maxl.assembly.datasets import load_dataset

    config = (run.results or {}).get("config") or {}
    name = config.get("dataset") or (run.results or {}).get("dataset")
    if not name:
        raise MaxlError(f"{RESULTS} names no dataset")
    if name == "tensors":
        raise MaxlError(
            "a maxl.fit run keeps no copy of its data; save it as an .npz and train with "
            "--dataset npz:PATH to get image grids"
        )
    try:
        return load_dataset(name, config.get("data_dir"), image_size=config.get("image_size"))
    except OSError as error:
        raise MaxlError(f"cannot load dataset {name} ({error})") from None


def grid_dataset(dataset: ImageDataset | MaxlError | None, labels: AuxLabels) -> ImageDataset:
    """The dataset, if it has the images that `labels` point at; else a MaxlError saying why."""
    if dataset is None:
        raise MaxlError(f"{RESULTS} is missing, so the dataset is unknown")
    if isinstance(dataset, MaxlError):
        raise dataset
    if dataset.is_features:
        raise MaxlError(f"{dataset.name} holds feature vectors, not images")
    if len(labels.rows) and int(labels.rows.max()) >= len(dataset.x_train):
        raise MaxlError(
            f"{AUX_LABELS} points at training image {int(labels.rows.max())} but "
            f"{dataset.name} has {len(dataset.x_train)}; it was written for other data"
        )
    return dataset


def primary_class_names(run: SavedRun, dataset: ImageDataset) -> list[str] | None:
    """The names of the run's primary classes, where the dataset has them."""
    level = (run.results or {}).get("primary_level") or dataset.default_level
    return dataset.class_names.get(str(level)) or None


def displayable(images: np.ndarray) -> np.ndarray:
    """uint8 images as they are; float images (kept as given) stretched to 0..255 per channel."""
    if images.dtype == np.uint8:
        return images
    low = images.min(axis=(0, 2, 3), keepdims=True)
    high = images.max(axis=(0, 2, 3), keepdims=True)
    return np.rint(255 * (images - low) / np.maximum(high - low, 1e-12)).astype(np.uint8)
