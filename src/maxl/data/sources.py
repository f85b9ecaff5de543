"""Where dataset files come from: an explicit folder, $MAXL_DATA, system folders, then a cache
that missing files are downloaded into; every file's decompressed bytes are checked by SHA-256."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import shutil
import tempfile
import urllib.request
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from maxl.errors import MaxlError

Fetch = Callable[[str, Path], None]


@dataclass(frozen=True)
class RemoteFiles:
    """Where one dataset's files live: names, official URL, folder layouts and system folders."""

    dataset: str  # folder name under $MAXL_DATA and the cache, e.g. "fashion-mnist"
    files: tuple[str, ...]  # names of the decompressed files
    base_url: str  # file f is downloaded from base_url + f + remote_suffix
    remote_suffix: str = ".gz"
    layouts: tuple[str, ...] = ("",)  # sub-folders of each root to search ("" = the root)
    system_dirs: tuple[Path, ...] = ()
    fix: str = "delete it so it is downloaded again"  # how to repair a bad file


@dataclass(frozen=True)
class LocalFile:
    """A dataset file found on disk, with its verified, decompressed content."""

    path: Path
    data: bytes


def fetch_url(url: str, dest: Path) -> None:
    """Download `url` into the file `dest`; raises OSError (or HTTPException) on failure."""
    with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as out:
        shutil.copyfileobj(response, out, 1 << 20)


def cache_dir() -> Path:
    """The download cache: $XDG_CACHE_HOME/maxl, else ~/.cache/maxl."""
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "maxl"


def search_roots(data_dir: str | Path | None, system_dirs: Sequence[Path]) -> list[Path]:
    """Folders to search, in order: data_dir, each entry of $MAXL_DATA, system dirs, the cache."""
    roots = [Path(data_dir).expanduser()] if data_dir is not None else []
    roots += [Path(p).expanduser() for p in os.environ.get("MAXL_DATA", "").split(os.pathsep) if p]
    return [*roots, *system_dirs, cache_dir()]


def find_file(name: str, roots: Sequence[Path], layouts: Sequence[str]) -> Path | None:
    """First existing `<root>/<layout>/<name>` or its `.gz`, trying roots in order."""
    for root in roots:
        for layout in layouts:
            for candidate in (name, name + ".gz"):
                path = root / layout / candidate
                if path.is_file():
                    return path
    return None


def read_verified(path: Path, sha256: str | None, fix: str, *, gz: bool | None = None) -> bytes:
    """The file's bytes, gunzipped if it is a .gz, after checking their SHA-256 (None: no check)."""
    gz = path.name.endswith(".gz") if gz is None else gz
    try:
        raw = path.read_bytes()
        data = gzip.decompress(raw) if gz else raw
    except (OSError, EOFError, zlib.error) as err:  # BadGzipFile is an OSError
        raise MaxlError(f"{path} is corrupt or truncated ({err}); {fix}") from err
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256.lower():
        raise MaxlError(f"{path} does not match its SHA-256 checksum (corrupt or truncated); {fix}")
    return data


def obtain(
    spec: RemoteFiles,
    checksums: Mapping[str, str],
    data_dir: str | Path | None = None,
    fetch: Fetch | None = None,
) -> dict[str, LocalFile]:
    """Find (or download into the cache) and verify every file of `spec`; name -> LocalFile."""
    roots = search_roots(data_dir, spec.system_dirs)
    layouts = (*spec.layouts, spec.dataset)
    found: dict[str, LocalFile] = {}
    for name in spec.files:
        path = find_file(name, roots, layouts)
        if path is None:
            path = _download(spec, name, checksums.get(name), fetch or fetch_url)
        found[name] = LocalFile(path, read_verified(path, checksums.get(name), spec.fix))
    return found


def _download(spec: RemoteFiles, name: str, sha256: str | None, fetch: Fetch) -> Path:
    """Download one file into the cache atomically (temp file, verify, os.replace)."""
    folder = cache_dir() / spec.dataset
    dest = folder / (name + spec.remote_suffix)
    url = spec.base_url + name + spec.remote_suffix
    by_hand = (
        f"put {', '.join(f + spec.remote_suffix for f in spec.files)} in a folder and pass "
        "--data-dir DIR (or set $MAXL_DATA)"
    )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=folder)
        os.close(fd)
    except OSError as err:
        raise MaxlError(
            f"cannot write the download cache {folder} ({err}); set $XDG_CACHE_HOME or {by_hand}"
        ) from err
    tmp = Path(tmp_name)
    try:
        try:
            fetch(url, tmp)
        except (OSError, ValueError, http.client.HTTPException) as err:
            raise MaxlError(f"downloading {url} failed ({err}); {by_hand}") from err
        read_verified(
            tmp,
            sha256,
            f"the download from {url} is damaged; try again or {by_hand}",
            gz=dest.name.endswith(".gz"),
        )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest
