"""Comparing nested state dicts (checkpoints, optimiser states) entry by entry, bit for bit."""

from __future__ import annotations

import torch


def flatten(state: object, prefix: str = "") -> dict[str, object]:
    if isinstance(state, dict):
        return {
            k: v for key, sub in state.items() for k, v in flatten(sub, f"{prefix}{key}.").items()
        }
    if isinstance(state, (list, tuple)):
        return {
            k: v for i, sub in enumerate(state) for k, v in flatten(sub, f"{prefix}{i}.").items()
        }
    return {prefix: state}


def assert_equal_states(got: object, expected: object) -> None:
    flat_got, flat_expected = flatten(got), flatten(expected)
    assert flat_got.keys() == flat_expected.keys()
    for key, value in flat_expected.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(flat_got[key], value), key
        else:
            assert flat_got[key] == value, key
