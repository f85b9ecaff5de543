"""A parser for the IDX format (MNIST, Fashion-MNIST): a 4-byte magic (0, 0, dtype code, number
of dimensions), one big-endian uint32 per dimension, then the big-endian data."""

from __future__ import annotations

import math
import struct

import numpy as np

from maxl.errors import MaxlError

IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(data: bytes, source: str = "IDX data") -> np.ndarray:
    """Decode IDX bytes into a native-endian, writable array; `source` names the file in errors."""
    fix = "delete it and get a fresh copy"
    if len(data) < 4:
        raise MaxlError(f"{source} is not an IDX file (only {len(data)} bytes); {fix}")
    zero, code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or code not in IDX_DTYPES or ndim == 0:
        raise MaxlError(
            f"{source} is not an IDX file (bad magic {data[:4].hex()}): a gzip file not "
            f"decompressed, or a different format; {fix}"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise MaxlError(f"{source} is truncated inside its IDX header; {fix}")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(IDX_DTYPES[code])
    count = math.prod(shape)
    expected = header + count * dtype.itemsize
    if len(data) != expected:
        raise MaxlError(
            f"{source} has {len(data)} bytes but its IDX header (shape {shape}) needs "
            f"{expected}: the file is truncated or corrupt; {fix}"
        )
    array = np.frombuffer(data, dtype=dtype, count=count, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))
