import pytest
import torch

from maxl.data import augment_batch
from maxl.errors import MaxlError


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def batch(n=64, c=3, h=6, w=5, seed=1):
    # strictly positive, distinct values: every crop offset gives a different image
    return torch.rand(n, c, h, w, generator=gen(seed)) + 1


def hand_crops(image, pad):
    """All (dy, dx) -> crop of the image zero-padded by hand with slice assignment."""
    c, h, w = image.shape
    padded = torch.zeros(c, h + 2 * pad, w + 2 * pad)
    padded[:, pad : pad + h, pad : pad + w] = image
    return {
        (dy, dx): padded[:, dy : dy + h, dx : dx + w]
        for dy in range(2 * pad + 1)
        for dx in range(2 * pad + 1)
    }


def matches(out, candidates):
    return [key for key, crop in candidates.items() if torch.equal(out, crop)]


def test_identity_when_off():
    x = batch()
    g = gen()
    state = g.get_state()
    assert augment_batch(x, pad=0, flip=False, generator=g) is x
    assert torch.equal(g.get_state(), state)


def test_every_output_is_one_valid_crop_with_its_own_offset():
    x = batch(n=200)
    out = augment_batch(x, pad=2, flip=False, generator=gen())
    assert out.shape == x.shape and out.dtype == x.dtype
    offsets = []
    for image, result in zip(x, out, strict=True):
        found = matches(result, hand_crops(image, 2))
        assert len(found) == 1
        offsets.append(found[0])
    assert len(set(offsets)) >= 20  # 25 possible offsets, 200 images
    assert {dy for dy, _ in offsets} == set(range(5)) and {dx for _, dx in offsets} == set(range(5))


def test_flip_only_matches_torch_flip_per_image():
    x = batch(n=400)
    out = augment_batch(x, pad=0, flip=True, generator=gen())
    flipped = []
    for image, result in zip(x, out, strict=True):
        if torch.equal(result, torch.flip(image, dims=[-1])):
            flipped.append(True)
        else:
            assert torch.equal(result, image)
            flipped.append(False)
    assert 0.4 < sum(flipped) / len(flipped) < 0.6


def test_crop_and_flip_together():
    x = batch(n=100, c=2)
    out = augment_batch(x, pad=3, flip=True, generator=gen(5))
    kinds = set()
    for image, result in zip(x, out, strict=True):
        crops = hand_crops(image, 3)
        plain = matches(result, crops)
        mirrored = matches(torch.flip(result, dims=[-1]), crops)
        assert len(plain) + len(mirrored) == 1
        kinds.add(bool(mirrored))
    assert kinds == {True, False}


def test_repeatable_from_the_generator_only():
    x = batch()
    torch.manual_seed(0)
    a = augment_batch(x, pad=4, flip=True, generator=gen(7))
    torch.manual_seed(1)
    b = augment_batch(x, pad=4, flip=True, generator=gen(7))
    c = augment_batch(x, pad=4, flip=True, generator=gen(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_pad_larger_than_image_and_single_image():
    x = batch(n=1, c=1, h=2, w=2)
    out = augment_batch(x, pad=3, flip=False, generator=gen())
    assert len(matches(out[0], hand_crops(x[0], 3))) == 1


def test_bad_arguments():
    with pytest.raises(MaxlError, match="padding must be >= 0"):
        augment_batch(batch(), pad=-1, flip=False, generator=gen())
    with pytest.raises(MaxlError, match=r"\[N, C, H, W\]"):
        augment_batch(torch.zeros(3, 4, 4), pad=1, flip=False, generator=gen())


@pytest.mark.parametrize(("pad", "flip"), [(2, False), (0, True), (3, True)])
def test_a_share_of_a_batch_gets_the_augmentation_it_gets_in_the_whole_batch(pad, flip):
    x = batch(n=6)
    whole = augment_batch(x, pad=pad, flip=flip, generator=gen(3))
    for part in (slice(0, 3), slice(3, 6), slice(2, 4)):
        share = augment_batch(
            x[part], pad=pad, flip=flip, generator=gen(3), batch_size=6, part=part
        )
        assert torch.equal(share, whole[part])
