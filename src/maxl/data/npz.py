"""User data from an .npz: x_train, y_train, x_test, y_test, optional fine_train, fine_test
(finer labels nested in the primary ones) and optional x_val, y_val (a validation split of the
user's own); images (N,H,W), (N,H,W,C) or (N,C,H,W), uint8/float."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from maxl.data.dataset import ImageDataset
from maxl.data.layout import to_nchw
from maxl.errors import MaxlError

REQUIRED = ("x_train", "y_train", "x_test", "y_test")
OPTIONAL = ("fine_train", "fine_test", "x_val", "y_val")
_SAVE_HINT = "save it with numpy.savez(PATH, x_train=..., y_train=..., x_test=..., y_test=...)"


def load_npz(path: str | Path, data_dir: str | Path | None = None) -> ImageDataset:
    """Load user arrays from an .npz; a relative `path` not found here is looked up in data_dir."""
    file = _resolve(Path(path).expanduser(), data_dir)
    return dataset_from_arrays(_read(file), f"npz:{path}", file)


def dataset_from_arrays(
    arrays: dict[str, np.ndarray],
    name: str,
    where: str | Path,
    inputs: tuple[list[Any], float | None] | None = None,
) -> ImageDataset:
    """An ImageDataset from x_train, y_train, x_test, y_test (+ fine_train, fine_test) arrays,
    as an .npz holds them (also what maxl.fit makes of tensors); `where` names them in errors.
    `inputs`: the x of each split (train, test, val) already made, with their float scale (a
    stream's), in place of the x arrays."""
    file = where
    images, float_scale = _images(arrays, file) if inputs is None else inputs
    x_val, y_val = None, None
    if "x_val" in arrays:
        x_val = images[2]
        y_val = _labels(arrays["y_val"], "y_val", len(x_val), file)
    levels = {}
    for prefix, key in (("y", "primary"), ("fine", "fine")):
        if f"{prefix}_train" in arrays:
            levels[key] = [
                _labels(arrays[f"{prefix}_{split}"], f"{prefix}_{split}", len(x), file)
                for split, x in zip(("train", "test"), images[:2], strict=True)
            ]
    num_primary = _num_classes(levels["primary"])
    if num_primary < 2:
        raise MaxlError(
            f"{file}: y_train/y_test hold a single class; a classifier needs two or more"
        )
    names = {"primary": str(num_primary)}
    if "fine" in levels:
        num_fine = _num_classes(levels["fine"])
        if num_fine <= num_primary:
            raise MaxlError(
                f"{file}: fine_train/fine_test have {num_fine} classes but y_train/y_test have "
                f"{num_primary}; the fine labels must be finer (more classes) than the primary ones"
            )
        _check_nested(levels["fine"], levels["primary"], file)
        names["fine"] = str(num_fine)
    return ImageDataset(
        name=name,
        x_train=images[0],
        x_test=images[1],
        labels_train={names[k]: v[0] for k, v in levels.items()},
        labels_test={names[k]: v[1] for k, v in levels.items()},
        default_level=names["primary"],
        flip=False,
        class_names={},
        x_val=x_val,
        y_val=y_val,
        float_scale=float_scale,
    )


def _resolve(path: Path, data_dir: str | Path | None) -> Path:
    if not path.is_absolute() and not path.exists() and data_dir is not None:
        in_data_dir = Path(data_dir).expanduser() / path
        if in_data_dir.exists():
            return in_data_dir
    if not path.is_file():
        raise MaxlError(f"{path} does not exist; pass npz:PATH with the path of your .npz file")
    return path


def _read(file: Path) -> dict[str, np.ndarray]:
    if not zipfile.is_zipfile(file):
        raise MaxlError(f"{file} is not an .npz (zip) file; {_SAVE_HINT}")
    try:
        with np.load(file, allow_pickle=False) as npz:
            present = set(npz.files)
            missing = [k for k in REQUIRED if k not in present]
            if missing:
                raise MaxlError(
                    f"{file} lacks {', '.join(missing)}; it needs {', '.join(REQUIRED)} "
                    f"(and optionally {', '.join(OPTIONAL)}); {_SAVE_HINT}"
                )
            arrays = {k: npz[k] for k in REQUIRED + OPTIONAL if k in present}
    except MaxlError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise MaxlError(f"{file} could not be read as .npz ({err}); {_SAVE_HINT}") from err
    for pair in (("fine_train", "fine_test"), ("x_val", "y_val")):
        if (pair[0] in arrays) != (pair[1] in arrays):
            have, lack = pair[:: 1 if pair[0] in arrays else -1]
            raise MaxlError(f"{file} has {have} but not {lack}; give both arrays or neither")
    return arrays


def _images(
    arrays: dict[str, np.ndarray], file: str | Path
) -> tuple[list[torch.Tensor], float | None]:
    """The image arrays (x_train, x_test, and x_val when given) as uint8 NCHW tensors; floats
    in [0, 1] (judged jointly) are scaled. 2-D arrays (N, D) are feature vectors, kept as
    float32. Also the factor that made float images uint8 (see image_arrays)."""
    keys: list[str] = [k for k in ("x_train", "x_test", "x_val") if k in arrays]
    ranks = {key: arrays[key].ndim for key in keys}
    if 0 < list(ranks.values()).count(2) < len(keys):
        flat = next(k for k in keys if ranks[k] == 2)
        other = next(k for k in keys if ranks[k] != 2)
        raise MaxlError(
            f"{file}: {flat} has shape {arrays[flat].shape} (feature vectors) but {other} has "
            f"shape {arrays[other].shape}; give both splits as feature vectors (N, D) or both "
            "as images"
        )
    if 2 in ranks.values():
        return _features(arrays, file, keys), None
    xs = [to_nchw(arrays[k], k, file) for k in keys]
    for key, x in zip(keys, xs, strict=True):
        if x.dtype != np.uint8 and not np.issubdtype(x.dtype, np.floating):
            raise MaxlError(
                f"{file}: {key} has dtype {x.dtype}; images must be uint8 (0..255) or float "
                "(0..1 or 0..255): convert with .astype(numpy.uint8)"
            )
        if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
            raise MaxlError(f"{file}: {key} contains NaN or infinity; clean the images")
    converted, scale = image_arrays(xs, keys, file)
    out = [torch.from_numpy(np.ascontiguousarray(x)) for x in converted]
    for key, images in zip(keys[1:], out[1:], strict=True):
        if out[0].shape[1:] != images.shape[1:]:
            raise MaxlError(
                f"{file}: x_train images are {tuple(out[0].shape[1:])} but {key} images are "
                f"{tuple(images.shape[1:])} (C, H, W); give both the same shape"
            )
    return out, scale


def image_arrays(
    xs: list[np.ndarray], keys: list[str], file: str | Path
) -> tuple[list[np.ndarray], float | None]:
    """The rule for float images, judged over all the splits together: floats all in 0..1 are
    scaled to uint8 (x 255, rounded); whole numbers in 0..255 become uint8 as they are; any
    other floats (normalised images, say) are kept as float32, never quantised. Also returns
    the factor that made floats uint8 (None when no float became uint8)."""
    floats = [x for x in xs if np.issubdtype(x.dtype, np.floating)]
    if not floats:
        return xs, None
    low = min(float(x.min(initial=0)) for x in floats)
    high = max(float(x.max(initial=0)) for x in floats)
    if low >= 0 and high <= 1:
        scale = 255.0
    elif low >= 0 and high <= 255 and all(np.array_equal(x, np.rint(x)) for x in floats):
        scale = 1.0
    elif len(floats) < len(xs):
        raise MaxlError(
            f"{file}: {', '.join(keys)} mix uint8 images and float ones outside 0..1; give "
            "every split the same dtype"
        )
    else:
        return [x.astype(np.float32) for x in xs], None
    return [as_bytes(x, scale) for x in xs], scale


def as_bytes(x: np.ndarray, scale: float) -> np.ndarray:
    """uint8 images as they are; float ones times `scale`, rounded in float64."""
    return x if x.dtype == np.uint8 else np.rint(x.astype(np.float64) * scale).astype(np.uint8)


def _features(
    arrays: dict[str, np.ndarray], file: str | Path, keys: list[str]
) -> list[torch.Tensor]:
    """The inputs as float32 feature vectors [N, D] with the same D."""
    out = []
    for key in keys:
        x = arrays[key]
        if len(x) == 0:
            raise MaxlError(f"{file}: {key} is empty; give at least one feature vector")
        if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
            raise MaxlError(f"{file}: {key} has dtype {x.dtype}; features must be numbers")
        if not np.isfinite(x).all():
            raise MaxlError(f"{file}: {key} contains NaN or infinity; clean the features")
        out.append(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
    for key, features in zip(keys[1:], out[1:], strict=True):
        if out[0].shape[1] != features.shape[1]:
            raise MaxlError(
                f"{file}: x_train has {out[0].shape[1]} features but {key} has "
                f"{features.shape[1]}; "
                "give both the same number"
            )
    return out


def _labels(y: np.ndarray, key: str, n: int, file: str | Path) -> torch.Tensor:
    """One split's labels as int64 [n]; a (n, 1) column is accepted and flattened."""
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if not np.issubdtype(y.dtype, np.integer):
        raise MaxlError(
            f"{file}: {key} has dtype {y.dtype}; labels must be integers 0..K-1 "
            "(convert with .astype(numpy.int64))"
        )
    if y.shape != (n,):
        raise MaxlError(
            f"{file}: {key} has shape {y.shape} but there are {n} images; "
            "give one label per image as a 1-D array"
        )
    if n and int(y.min()) < 0:
        raise MaxlError(f"{file}: {key} has negative label {int(y.min())}; labels must be >= 0")
    return torch.from_numpy(y.astype(np.int64))


def _num_classes(splits: list[torch.Tensor]) -> int:
    return max(int(y.max()) for y in splits if len(y)) + 1


def _check_nested(fine: list[torch.Tensor], primary: list[torch.Tensor], file: str | Path) -> None:
    """Every fine class must sit under exactly one primary class."""
    f, p = torch.cat(fine), torch.cat(primary)
    pairs = torch.unique(f * (int(p.max()) + 1) + p)
    fine_of = pairs // (int(p.max()) + 1)
    repeated = fine_of[1:][fine_of[1:] == fine_of[:-1]]
    if len(repeated):
        bad = int(repeated[0])
        parents = torch.unique(p[f == bad]).tolist()
        raise MaxlError(
            f"{file}: fine class {bad} appears under primary classes {parents}; each fine class "
            "must belong to exactly one primary class (fix fine_train/fine_test or y_train/y_test)"
        )
