"""Where dataset files come from: an explicit folder, $MAXL_DATA, system folders, then a cache
that missing files are downloaded into; every file is checked by checksum before it is parsed.

A checksum is "md5:HEX", "sha256:HEX" or plain SHA-256 hex. Keyed by a name in `files` it is of
the file's content (decompressed if found as .gz); keyed by the name on disk (with its .gz) it is
of the bytes on disk, as published MD5s of .gz files are."""

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
    suffixes: tuple[str, ...] = ("", ".gz")  # on-disk forms of each file, preferred first
    mirrors: tuple[str, ...] = ()  # further base URLs, tried in turn when a download fails
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


def find_file(
    name: str, roots: Sequence[Path], layouts: Sequence[str], suffixes: Sequence[str] = ("", ".gz")
) -> Path | None:
    """First existing `<root>/<layout>/<name><suffix>`: roots, then layouts, then suffixes."""
    for root in roots:
        for layout in layouts:
            for candidate in (name + suffix for suffix in suffixes):
                path = root / layout / candidate
                if path.is_file():
                    return path
    return None


def check_bytes(data: bytes, checksum: str | None, source: str | Path, fix: str) -> None:
    """Raise a MaxlError naming `source` unless `data` matches `checksum` (None: no check)."""
    if checksum is None:
        return
    algorithm, _, expected = checksum.rpartition(":")
    algorithm = algorithm.lower() or "sha256"
    if algorithm not in ("md5", "sha256"):
        raise ValueError(f"unsupported checksum {checksum!r}: write md5:HEX or sha256:HEX")
    # MD5 only detects damage here (the published sums are MD5), so FIPS builds may use it too
    actual = hashlib.new(algorithm, data, usedforsecurity=False).hexdigest()
    if actual != expected.lower():
        label = "MD5" if algorithm == "md5" else "SHA-256"
        raise MaxlError(
            f"{source} does not match its {label} checksum (corrupt or truncated); {fix}"
        )


def read_verified(
    path: Path,
    checksum: str | None,
    fix: str,
    *,
    gz: bool | None = None,
    file_checksum: str | None = None,
) -> bytes:
    """The file's content, gunzipped if it is a .gz, checked by `file_checksum` (of the bytes on
    disk, before gunzip) and `checksum` (of the content); None skips a check."""
    gz = path.name.endswith(".gz") if gz is None else gz
    try:
        raw = path.read_bytes()
        check_bytes(raw, file_checksum, path, fix)
        data = gzip.decompress(raw) if gz else raw
    except (OSError, EOFError, zlib.error) as err:  # BadGzipFile is an OSError
        raise MaxlError(f"{path} is corrupt or truncated ({err}); {fix}") from err
    check_bytes(data, checksum, path, fix)
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
        path = find_file(name, roots, layouts, spec.suffixes)
        if path is None:
            path = _download(spec, name, checksums, fetch or fetch_url)
        found[name] = LocalFile(path, _read(path, path.name, name, checksums, spec.fix))
    return found


def _read(path: Path, filename: str, name: str, checksums: Mapping[str, str], fix: str) -> bytes:
    """Read and verify `path`, which holds file `name` stored as `filename` (name or name.gz)."""
    gz = filename == name + ".gz"
    file_checksum = checksums.get(filename) if gz else None
    return read_verified(path, checksums.get(name), fix, gz=gz, file_checksum=file_checksum)


def _download(spec: RemoteFiles, name: str, checksums: Mapping[str, str], fetch: Fetch) -> Path:
    """Download one file into the cache atomically (temp file, verify, os.replace), trying the
    official URL, then each mirror."""
    folder = cache_dir() / spec.dataset
    dest = folder / (name + spec.remote_suffix)
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
    problems = []
    try:
        for base_url in (spec.base_url, *spec.mirrors):
            url = base_url + dest.name
            try:
                fetch(url, tmp)
            except (OSError, ValueError, http.client.HTTPException) as err:
                problems.append(f"downloading {url} failed ({err})")
                continue
            try:
                _read(tmp, dest.name, name, checksums, f"the download from {url} is damaged")
            except MaxlError as err:
                problems.append(str(err))
                continue
            os.replace(tmp, dest)
            return dest
    finally:
        tmp.unlink(missing_ok=True)
    raise MaxlError(f"{'; '.join(problems)}; try again or {by_hand}")
