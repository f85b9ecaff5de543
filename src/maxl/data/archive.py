"""Datasets shipped as one archive (CIFAR, CINIC-10): find an unpacked copy of it, or read the
members of the verified archive in memory (nothing is extracted to disk)."""

from __future__ import annotations

import io
import tarfile
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from maxl.data.sources import LocalFile, RemoteFiles, find_file, search_roots
from maxl.errors import MaxlError


def find_unpacked(
    spec: RemoteFiles, data_dir: str | Path | None, folders: Sequence[str], required: Sequence[str]
) -> Path | None:
    """The unpacked folder to read, or None to read the archive `spec.files[0]` instead.

    Roots are searched in `search_roots` order; within a root, a folder `<layout>/<f>` (f in
    `folders`) that holds every path in `required` comes before the archive, so an explicit
    --data-dir always wins over copies elsewhere.
    """
    layouts = (*spec.layouts, spec.dataset)
    for root in search_roots(data_dir, spec.system_dirs):
        for layout in layouts:
            for folder in folders:
                path = root / layout / folder
                if all((path / item).exists() for item in required):
                    return path
        if find_file(spec.files[0], [root], layouts, spec.suffixes) is not None:
            return None
    return None


def archive_members(archive: LocalFile, fix: str) -> Iterator[tuple[str, bytes]]:
    """Each regular file of a .tar or .tar.gz held in memory, as (path without "./", bytes)."""
    try:
        with tarfile.open(fileobj=io.BytesIO(archive.data), mode="r:*") as tar:
            for member in tar:
                handle = tar.extractfile(member) if member.isfile() else None
                if handle is not None:
                    yield member.name.removeprefix("./"), handle.read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise MaxlError(f"{archive.path} is not a readable tar archive ({err}); {fix}") from err
