"""CINIC-10 (CIFAR-10's ten classes in 32x32 PNGs drawn from CIFAR-10 and ImageNet), trained on
its `train` split and tested on `test` (`valid` is not used), read from the unpacked folder
({train,valid,test}/<class>/*.png) or from the official tarball in memory.

Checks. The authors publish no checksum (the README gives none, nor does the DataShare record
as far as we could see), so the tarball is checked by the MD5 that many independent CINIC-10
loaders agree on. An unpacked folder has no per-file sums at all, so there, as in the tarball,
every PNG must decode (the zlib checksum inside each PNG covers its pixels) to a 32x32 image and
each split must hold exactly 9,000 images per class (90,000 in all); anything else is a one-line
error naming the file or folder.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from maxl.data.archive import archive_members, find_unpacked
from maxl.data.dataset import ImageDataset
from maxl.data.sources import Fetch, LocalFile, RemoteFiles, obtain
from maxl.errors import MaxlError

ARCHIVE = "CINIC-10.tar.gz"
BASE_URL = "https://datashare.ed.ac.uk/bitstream/handle/10283/3192/"
MD5: Mapping[str, str] = MappingProxyType({ARCHIVE: "md5:6ee4d0c996905fe93221de577967a372"})
CLASS_NAMES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
SPLITS = ("train", "test")
PER_CLASS = 9000  # images per class in each split
FOLDERS = ("", "CINIC-10", "cinic-10")  # names the unpacked folder may have (or be the root)

Images = dict[tuple[int, str], np.ndarray]  # (label, file name) -> uint8 [3, 32, 32]


def load_cinic10(
    data_dir: str | Path | None = None,
    *,
    checksums: Mapping[str, str] = MD5,
    per_class: int = PER_CLASS,
    system_dirs: Sequence[Path] = (),
    fetch: Fetch | None = None,
) -> ImageDataset:
    """Load CINIC-10 (level "10"); `per_class` is the exact image count per class and split."""
    spec = RemoteFiles(
        dataset="cinic10",
        files=(ARCHIVE,),
        base_url=BASE_URL,
        remote_suffix="",
        suffixes=("",),
        system_dirs=tuple(Path(d) for d in system_dirs),
    )
    required = [f"{split}/{name}" for split in SPLITS for name in CLASS_NAMES]
    folder = find_unpacked(spec, data_dir, FOLDERS, required)
    if folder is not None:
        where = str(folder)
        fix = (
            f"unpack {ARCHIVE} again, or remove train/, valid/ and test/ from {folder} so the "
            "verified tarball is used instead"
        )
        images = _from_folder(folder, fix)
    else:
        archive = obtain(spec, checksums, data_dir, fetch)[ARCHIVE]
        where, fix = str(archive.path), spec.fix
        images = _from_archive(archive, fix)
    x_train, y_train = _stack(images["train"], "train", per_class, where, fix)
    x_test, y_test = _stack(images["test"], "test", per_class, where, fix)
    return ImageDataset(
        name="cinic10",
        x_train=x_train,
        x_test=x_test,
        labels_train={"10": y_train},
        labels_test={"10": y_test},
        default_level="10",
        flip=True,
        class_names={"10": list(CLASS_NAMES)},
    )


def _from_folder(folder: Path, fix: str) -> dict[str, Images]:
    """Decode every <split>/<class>/*.png of the unpacked folder."""
    images: dict[str, Images] = {split: {} for split in SPLITS}
    for split in SPLITS:
        for label, name in enumerate(CLASS_NAMES):
            for path in (folder / split / name).glob("*.png"):
                try:
                    data = path.read_bytes()
                except OSError as err:
                    raise MaxlError(f"{path} could not be read ({err}); {fix}") from err
                images[split][label, path.name] = _decode(data, str(path), fix)
    return images


def _from_archive(archive: LocalFile, fix: str) -> dict[str, Images]:
    """Decode every <split>/<class>/*.png member of the (verified) tarball."""
    labels = {name: label for label, name in enumerate(CLASS_NAMES)}
    images: dict[str, Images] = {split: {} for split in SPLITS}
    for member, data in archive_members(archive, fix):
        split, name, file = ["", "", "", *member.split("/")][-3:]  # the last three parts
        if split in images and name in labels and file.endswith(".png"):
            source = f"{archive.path} (member {member})"
            images[split][labels[name], file] = _decode(data, source, fix)
    return images


def _decode(data: bytes, source: str, fix: str) -> np.ndarray:
    """One PNG as uint8 [3, 32, 32]; greyscale images (a few of the ImageNet ones) become RGB."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            rgb = image.convert("RGB")
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as err:
        reason = "unknown format" if isinstance(err, UnidentifiedImageError) else err
        raise MaxlError(f"{source} is not a readable PNG image ({reason}); {fix}") from err
    if rgb.size != (32, 32):
        width, height = rgb.size
        raise MaxlError(f"{source} is {width}x{height} pixels, not 32x32; {fix}")
    return np.asarray(rgb).transpose(2, 0, 1)


def _stack(
    images: Images, split: str, per_class: int, where: str, fix: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """One split as uint8 [N, 3, 32, 32] and int64 labels, ordered by class, then file name."""
    counts = Counter(label for label, _ in images)
    for label, name in enumerate(CLASS_NAMES):
        if counts[label] != per_class:
            raise MaxlError(
                f"{where}: {split}/{name} holds {counts[label]} PNG images, not {per_class}; {fix}"
            )
    keys = sorted(images)
    x = np.stack([images[key] for key in keys])
    return torch.from_numpy(x), torch.tensor([label for label, _ in keys], dtype=torch.int64)
