import struct

import numpy as np
import pytest
from data_helpers import idx_bytes
from hypothesis import given, settings
from hypothesis import strategies as st

from maxl.data.idx import parse_idx
from maxl.errors import MaxlError


def test_uint8_images_read_back_in_order():
    data = idx_bytes(list(range(24)), (2, 3, 4))
    array = parse_idx(data)
    assert array.dtype == np.uint8 and array.shape == (2, 3, 4)
    assert array[1, 2, 3] == 23 and array[0, 1, 0] == 4
    array[0, 0, 0] = 7  # writable copy, not a view of the bytes


def test_big_endian_int32_and_float32_become_native():
    ints = parse_idx(idx_bytes([1, -2, 70000], (3,), code=0x0C, fmt="i"))
    assert ints.dtype == np.dtype("int32") and ints.dtype.isnative
    assert ints.tolist() == [1, -2, 70000]
    floats = parse_idx(idx_bytes([0.5, -3.25], (2,), code=0x0D, fmt="f"))
    assert floats.dtype.isnative and floats.tolist() == [0.5, -3.25]


def test_hand_written_header_bytes():
    data = bytes([0, 0, 0x08, 1]) + (5).to_bytes(4, "big") + bytes([9, 8, 7, 6, 5])
    assert parse_idx(data).tolist() == [9, 8, 7, 6, 5]


@settings(max_examples=30, deadline=None)
@given(
    shape=st.lists(st.integers(0, 4), min_size=1, max_size=4),
    code_fmt=st.sampled_from([(0x08, "B", 0, 255), (0x09, "b", -128, 127), (0x0B, "h", -999, 999)]),
    data=st.data(),
)
def test_roundtrip_random_shapes(shape, code_fmt, data):
    code, fmt, lo, hi = code_fmt
    count = int(np.prod(shape))
    values = data.draw(st.lists(st.integers(lo, hi), min_size=count, max_size=count))
    array = parse_idx(idx_bytes(values, tuple(shape), code=code, fmt=fmt))
    assert array.shape == tuple(shape)
    assert array.ravel().tolist() == values


@pytest.mark.parametrize(
    "data, words",
    [
        (b"\x00\x00", "only 2 bytes"),
        (bytes([0, 1, 8, 1]) + struct.pack(">I", 1) + b"\x00", "bad magic"),
        (bytes([0, 0, 0x42, 1]) + struct.pack(">I", 1) + b"\x00", "bad magic"),
        (b"\x1f\x8b\x08\x00" + b"\x00" * 20, "gzip"),
        (bytes([0, 0, 8, 3]) + struct.pack(">I", 1), "truncated inside its IDX header"),
    ],
)
def test_malformed_headers_are_rejected(data, words):
    with pytest.raises(MaxlError, match=words):
        parse_idx(data, "some-file")


def test_size_mismatch_names_the_file():
    good = idx_bytes(list(range(12)), (3, 4))
    with pytest.raises(MaxlError, match=r"labels\.idx has 15 bytes .* needs 24.*truncated"):
        parse_idx(good[:-9], "labels.idx")
    with pytest.raises(MaxlError, match=r"labels\.idx has 25 bytes"):
        parse_idx(good + b"\x00", "labels.idx")
