"""User images as a folder tree: PATH/{train,test}/CLASS/*.png|jpg, or one level deeper,
PATH/{train,test}/CLASS/FINE/*.png|jpg, which adds human fine labels (and so ψ). An optional
PATH/val/ laid out the same way (with class folders that train/ has) is the user's own
validation split.

Every image is decoded once with Pillow, made RGB if any image in the tree has colour (else
greyscale), resized (stretched) to one size and kept as uint8. The result is cached under
`~/.cache/maxl/folders/` ($XDG_CACHE_HOME honoured), one file per tree and image size, and
decoded again whenever a file of the tree is added, removed, resized or touched.

Hidden entries (names starting with ".") and files of other types are ignored; classes and
files are taken in name order, and fine classes are numbered by (class, fine) name, so each
primary class's fine classes are contiguous.
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from maxl.data.dataset import ImageDataset
from maxl.data.sources import cache_dir
from maxl.errors import MaxlError
from maxl.run_folder import write_atomic

SPLITS = ("train", "test")
EXTENSIONS = (".png", ".jpg", ".jpeg")
RESAMPLE = Image.Resampling.BILINEAR  # the filter used to bring images to one size
CACHE_FORMAT = 1  # bump when decoding changes, so old caches are not reused
_LAYOUT = (
    "the layout is PATH/train/CLASS/*.png and PATH/test/CLASS/*.png (or CLASS/FINE/*.png), "
    "and optionally PATH/val/CLASS/*.png"
)
_UNREADABLE = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


@dataclass(frozen=True)
class _Tree:
    """What the folders hold: per split, the image files and their (class, fine) folders."""

    classes: list[str]  # primary class folder names, sorted
    fines: list[tuple[str, str]]  # (class, fine) folder names, sorted; empty for one level
    files: dict[str, list[tuple[Path, tuple[str, ...]]]]  # split -> (file, its folders)


def load_folder(
    path: str | Path, data_dir: str | Path | None = None, image_size: int | None = None
) -> ImageDataset:
    """Load an image tree; a relative `path` not found here is looked up in data_dir.

    `image_size` N resizes every image to NxN; without it all images must share one size.
    """
    if image_size is not None and (
        isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1
    ):
        raise MaxlError(f"--image-size must be a positive whole number of pixels, got {image_size}")
    root = _resolve(Path(path).expanduser(), data_dir)
    tree = _scan(root)
    stats = _stats(root, tree)
    cache = _cache_file(root, image_size)
    key = _cache_key(root, image_size, stats)
    arrays = _read_cache(cache, key)
    if arrays is None:
        arrays = _decode_tree(root, tree, image_size)
        _write_cache(cache, key, arrays)
    return _dataset(f"folder:{path}", tree, arrays)


def _resolve(path: Path, data_dir: str | Path | None) -> Path:
    if not path.is_absolute() and not path.exists() and data_dir is not None:
        in_data_dir = Path(data_dir).expanduser() / path
        if in_data_dir.exists():
            path = in_data_dir
    if not path.is_dir():
        raise MaxlError(
            f"{path} is not a folder; pass folder:PATH with a folder holding train/ and test/"
        )
    return path.resolve()


def _visible(folder: Path) -> list[Path]:
    """The entries of `folder` in name order, hidden ones left out."""
    try:
        entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    except OSError as err:
        raise MaxlError(f"{folder} could not be listed ({err}); check its permissions") from err
    return sorted(entries, key=lambda p: p.name)


def _is_image(entry: Path) -> bool:
    return entry.suffix.lower() in EXTENSIONS and entry.is_file()


def _images_in(folder: Path, what: str) -> list[Path]:
    """The image files of a leaf folder (one that must hold images and no sub-folders)."""
    entries = _visible(folder)
    subfolders = [p for p in entries if p.is_dir()]
    if subfolders:
        raise MaxlError(
            f"{subfolders[0]} is a folder inside the {what} folder {folder}; the tree may be at "
            f"most two levels deep: {_LAYOUT}"
        )
    images = [p for p in entries if _is_image(p)]
    if not images:
        raise MaxlError(
            f"{folder} holds no .png/.jpg images; add images to this {what} folder or remove it"
        )
    return images


def _scan(root: Path) -> _Tree:
    """List the tree, checking that both splits have the same folders, all at one depth."""
    depth: dict[Path, int] = {}  # class folder -> 1 (images) or 2 (fine folders)
    found: dict[str, dict[tuple[str, ...], list[Path]]] = {}  # split -> folders -> images
    splits = (*SPLITS, "val") if (root / "val").is_dir() else SPLITS
    for split in splits:
        top = root / split
        if not top.is_dir():
            raise MaxlError(f"{top} does not exist; {_LAYOUT}")
        entries = _visible(top)
        loose = [p for p in entries if _is_image(p)]
        if loose:
            raise MaxlError(
                f"{loose[0]} lies outside any class folder; move the images of each class into "
                f"{top}/CLASS/"
            )
        class_folders = [p for p in entries if p.is_dir()]
        if not class_folders:
            raise MaxlError(f"{top} holds no class folders (so no images); {_LAYOUT}")
        found[split] = {}
        for folder in class_folders:
            inside = _visible(folder)
            subfolders = [p for p in inside if p.is_dir()]
            if subfolders and any(_is_image(p) for p in inside):
                raise MaxlError(
                    f"{folder} holds both images and sub-folders; the tree must be all one depth: "
                    "move its images into a FINE folder, or its sub-folders' images up into it"
                )
            depth[folder] = 2 if subfolders else 1
            if subfolders:
                for fine in subfolders:
                    found[split][folder.name, fine.name] = _images_in(fine, "fine class")
            else:
                found[split][(folder.name,)] = _images_in(folder, "class")
    if len(set(depth.values())) > 1:
        shallow = next(f for f, d in depth.items() if d == 1)
        deep = next(f for f, d in depth.items() if d == 2)
        raise MaxlError(
            f"{shallow} holds images but {deep} holds fine-class folders; the tree must be all "
            "one depth: give every class FINE sub-folders, or none"
        )
    _check_same_folders(root, found)
    unknown = sorted(set(found.get("val", {})) - set(found["train"]))
    if unknown:
        raise MaxlError(
            f"{root / 'val' / '/'.join(unknown[0])} has no counterpart in {root / 'train'}; "
            "give val/ only class folders that train/ has"
        )
    groups = sorted(found["train"])
    classes = sorted({g[0] for g in groups})
    if len(classes) < 2:
        raise MaxlError(
            f"{root} has a single class folder ({classes[0]}); a classifier needs two or more "
            "class folders in train/ and test/"
        )
    if len(groups[0]) == 2 and len(groups) == len(classes):
        raise MaxlError(
            f"every class folder in {root} holds a single FINE folder, so the fine labels add "
            "nothing; give some class two or more FINE folders, or move the images up a level"
        )
    return _Tree(
        classes=classes,
        fines=[(g[0], g[1]) for g in groups] if len(groups[0]) == 2 else [],
        files={s: [(f, g) for g in sorted(found[s]) for f in found[s][g]] for s in found},
    )


def _check_same_folders(root: Path, found: dict[str, dict[tuple[str, ...], list[Path]]]) -> None:
    for split, other in (("test", "train"), ("train", "test")):
        missing = sorted(set(found[other]) - set(found[split]))
        if missing:
            folder = "/".join(missing[0])
            raise MaxlError(
                f"{root / split / folder} is missing but {root / other / folder} exists; give "
                "train/ and test/ the same class folders"
            )


def _stats(root: Path, tree: _Tree) -> list[tuple[str, int, int]]:
    """(relative path, size, mtime in ns) of every image: what the cache is valid for."""
    stats = []
    for split in tree.files:
        for file, _ in tree.files[split]:
            try:
                st = file.stat()
            except OSError as err:
                raise MaxlError(f"{file} could not be read ({err}); check its permissions") from err
            stats.append((file.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns))
    return stats


def _cache_file(root: Path, image_size: int | None) -> Path:
    """One cache file per tree and image size, so a changed tree replaces its old cache."""
    name = hashlib.sha256(json.dumps([str(root), image_size]).encode()).hexdigest()[:32]
    return cache_dir() / "folders" / f"{name}.pt"


def _cache_key(root: Path, image_size: int | None, stats: list[tuple[str, int, int]]) -> str:
    content = [CACHE_FORMAT, str(root), image_size, stats]
    return hashlib.sha256(json.dumps(content).encode()).hexdigest()


def _read_cache(cache: Path, key: str) -> dict[str, torch.Tensor] | None:
    """The cached arrays if the cache exists, is whole and was made from this very tree."""
    if not cache.is_file():
        return None
    try:
        saved: Any = torch.load(cache, weights_only=True)
    except Exception:  # a damaged or foreign cache file is simply decoded again
        return None
    names = ("x_train", "x_test", "fine_train", "fine_test")
    if (
        not isinstance(saved, dict)
        or saved.get("key") != key
        or not all(isinstance(saved.get(k), torch.Tensor) for k in names)
    ):
        return None
    return {k: v for k, v in saved.items() if k != "key" and isinstance(v, torch.Tensor)}


def _write_cache(cache: Path, key: str, arrays: dict[str, torch.Tensor]) -> None:
    """Save the decoded arrays atomically; a cache that cannot be written only costs time."""
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(cache, lambda handle: torch.save({"key": key, **arrays}, handle))
    except OSError as err:
        warnings.warn(
            f"could not cache the decoded images in {cache} ({err}); they will be decoded "
            "again next time (set $XDG_CACHE_HOME to a writable folder)",
            stacklevel=3,
        )


def _decode_tree(root: Path, tree: _Tree, image_size: int | None) -> dict[str, torch.Tensor]:
    """Decode every image to one size and one mode: uint8 [N, C, H, W] and fine-group indices."""
    group_index = {g: i for i, g in enumerate(sorted({g for _, g in tree.files["train"]}))}
    size = None if image_size is None else (image_size, image_size)
    first: Path | None = None
    decoded: dict[str, list[np.ndarray]] = {}
    for split in tree.files:
        decoded[split] = []
        for file, _ in tree.files[split]:
            image = _decode(file)
            if size is None:
                size, first = image.size, file
            elif image_size is None and image.size != size:
                raise MaxlError(
                    f"{file} is {image.size[0]}x{image.size[1]} pixels but {first} is "
                    f"{size[0]}x{size[1]}; pass --image-size N to resize every image to NxN"
                )
            if image.size != size:
                image = image.resize(size, RESAMPLE)
            decoded[split].append(np.asarray(image))
    colour = any(a.ndim == 3 and not _grey(a) for s in decoded for a in decoded[s])
    out: dict[str, torch.Tensor] = {}
    for split in decoded:
        images = [_to_mode(a, colour) for a in decoded[split]]
        out[f"x_{split}"] = torch.from_numpy(np.ascontiguousarray(np.stack(images)))
        groups = [group_index[g] for _, g in tree.files[split]]
        out[f"fine_{split}"] = torch.tensor(groups, dtype=torch.int64)
    return out


def _decode(file: Path) -> Image.Image:
    """One image, upright (EXIF orientation applied), as mode L (greyscale modes) or RGB."""
    try:
        data = file.read_bytes()
    except OSError as err:
        raise MaxlError(f"{file} could not be read ({err}); check its permissions") from err
    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.load()
            image = ImageOps.exif_transpose(opened)
            grey = image.mode in ("1", "L", "LA", "La", "I", "F") or image.mode.startswith("I;")
            return image.convert("L" if grey else "RGB")
    except _UNREADABLE as err:
        reason = "unknown format" if isinstance(err, UnidentifiedImageError) else err
        reason = " ".join(str(reason).split())  # one line
        raise MaxlError(
            f"{file} is not a readable image ({reason}); replace it with a valid .png/.jpg or "
            "delete it"
        ) from err


def _grey(rgb: np.ndarray) -> bool:
    """Is this [H, W, 3] image grey, every pixel's three channels equal?"""
    return bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 0] == rgb[..., 2]).all())


def _to_mode(image: np.ndarray, colour: bool) -> np.ndarray:
    """[H, W] or [H, W, 3] -> [3, H, W] when the tree has colour, else [1, H, W]."""
    if image.ndim == 2:
        return np.repeat(image[None], 3 if colour else 1, axis=0)
    return image.transpose(2, 0, 1) if colour else image[None, :, :, 0]


def _dataset(name: str, tree: _Tree, arrays: dict[str, torch.Tensor]) -> ImageDataset:
    """Labels from the folder structure: primary classes, and fine classes when two levels."""
    num_primary = len(tree.classes)
    groups: Sequence[tuple[str, ...]] = tree.fines or [(c,) for c in tree.classes]
    parent = torch.tensor([tree.classes.index(g[0]) for g in groups], dtype=torch.int64)
    labels: dict[str, dict[str, torch.Tensor]] = {s: {} for s in SPLITS}
    for split in SPLITS:
        labels[split][str(num_primary)] = parent[arrays[f"fine_{split}"]]
    class_names = {str(num_primary): list(tree.classes)}
    if tree.fines:
        num_fine = len(tree.fines)
        for split in SPLITS:
            labels[split][str(num_fine)] = arrays[f"fine_{split}"]
        class_names[str(num_fine)] = [f"{c}/{f}" for c, f in tree.fines]
    return ImageDataset(
        name=name,
        x_train=arrays["x_train"],
        x_test=arrays["x_test"],
        labels_train=labels["train"],
        labels_test=labels["test"],
        default_level=str(num_primary),
        flip=False,
        class_names=class_names,
        x_val=arrays.get("x_val"),
        y_val=parent[arrays["fine_val"]] if "fine_val" in arrays else None,
    )
