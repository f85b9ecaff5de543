"""folder:PATH: image trees written here with Pillow from known random pixels."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch
from PIL import Image

from maxl.assembly.datasets import load_dataset
from maxl.data.folder import RESAMPLE, load_folder
from maxl.data.npz import load_npz
from maxl.errors import MaxlError
from maxl.hierarchy import hierarchy_from_labels

Group = tuple[str, ...]  # (class,) or (class, fine)


@pytest.fixture(autouse=True)
def cache(isolated_env: Path) -> Path:
    """The folder cache, under tmp_path (no $MAXL_DATA, $XDG_CACHE_HOME set)."""
    return isolated_env / "folders"


def save(path: Path, pixels: np.ndarray, **kw) -> Path:
    """Write uint8 [H, W] (greyscale) or [H, W, 3] (RGB) pixels; the format is the suffix's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, **kw)
    return path


def write_tree(
    root: Path,
    groups: list[Group],
    *,
    per: int = 2,
    shape: tuple[int, ...] = (6, 5, 3),
    seed: int = 0,
) -> dict[str, tuple[np.ndarray, list[Group]]]:
    """PNGs of random pixels at root/SPLIT/*GROUP/imgK.png (`per` per group and split); returns
    per split the pixels as uint8 [N, C, H, W] and each image's group, in name order."""
    rng = np.random.default_rng(seed)
    out = {}
    for split in ("train", "test"):
        images, owners = {}, {}
        for group in groups:
            for k in range(per):
                pixels = rng.integers(0, 256, shape, dtype=np.uint8)
                save(root / split / Path(*group) / f"img{k}.png", pixels)
                images[group, k], owners[group, k] = pixels, group
        keys = sorted(images)
        x = np.stack([images[key] for key in keys])
        x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
        out[split] = (x, [owners[key] for key in keys])
    return out


def count_opens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every PIL.Image.open call (and let it open the image)."""
    calls: list[str] = []
    real_open = PIL.Image.open

    def recording_open(fp, *args, **kwargs):
        calls.append(str(fp))
        return real_open(fp, *args, **kwargs)

    monkeypatch.setattr(PIL.Image, "open", recording_open)
    return calls


def forbid_opens(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_open(*args, **kwargs):
        raise AssertionError("an image was decoded although the cache is valid")

    monkeypatch.setattr(PIL.Image, "open", no_open)


CLASSES = [("dog",), ("ant",), ("cat",)]  # written out of order: the loader sorts them
FINES = [("vehicle", "van"), ("animal", "dog"), ("vehicle", "bus"), ("animal", "cat"),
         ("vehicle", "car")]  # fmt: skip


def test_one_level_tree_gives_the_exact_pixels_and_labels(tmp_path):
    root = tmp_path / "tree"
    fake = write_tree(root, CLASSES)
    ds = load_folder(root)
    assert ds.name == f"folder:{root}" and not ds.flip
    assert ds.levels == ["3"] and ds.default_level == "3"
    assert ds.class_names == {"3": ["ant", "cat", "dog"]}
    for split in ("train", "test"):
        x, owners = fake[split]
        images = getattr(ds, f"x_{split}")
        assert images.dtype == torch.uint8 and images.shape == (6, 3, 6, 5)
        assert np.array_equal(images.numpy(), x)
        expected = [["ant", "cat", "dog"].index(g[0]) for g in owners]
        assert getattr(ds, f"labels_{split}")["3"].tolist() == expected == [0, 0, 1, 1, 2, 2]


def test_two_level_tree_gives_fine_labels_contiguous_within_each_class(tmp_path):
    root = tmp_path / "tree"
    fake = write_tree(root, FINES, per=1)
    ds = load_folder(root)
    assert ds.levels == ["2", "5"] and ds.default_level == "2"
    fine_names = ["animal/cat", "animal/dog", "vehicle/bus", "vehicle/car", "vehicle/van"]
    assert ds.class_names == {"2": ["animal", "vehicle"], "5": fine_names}
    for split in ("train", "test"):
        x, owners = fake[split]
        assert np.array_equal(getattr(ds, f"x_{split}").numpy(), x)
        labels = getattr(ds, f"labels_{split}")
        assert labels["5"].tolist() == [fine_names.index("/".join(g)) for g in owners]
        assert labels["2"].tolist() == [0, 0, 1, 1, 1]
    hierarchy, fine_to_aux = hierarchy_from_labels(ds.labels_train["2"], ds.labels_train["5"])
    assert hierarchy.psi == [2, 3]
    assert fine_to_aux.tolist() == [0, 1, 2, 3, 4]  # already in ψ's block layout


def test_greyscale_tree_has_one_channel(tmp_path):
    root = tmp_path / "tree"
    fake = write_tree(root, CLASSES, shape=(4, 7))
    grey_rgb = np.repeat(fake["train"][0][0, 0][:, :, None], 3, axis=2)
    save(root / "train" / "ant" / "img0.png", grey_rgb)  # an RGB file without colour
    ds = load_folder(root)
    assert ds.x_train.shape == (6, 1, 4, 7)
    assert np.array_equal(ds.x_train.numpy(), fake["train"][0])
    assert np.array_equal(ds.x_test.numpy(), fake["test"][0])


def test_one_colour_image_makes_the_tree_rgb(tmp_path):
    root = tmp_path / "tree"
    fake = write_tree(root, CLASSES, shape=(4, 7))
    colour = np.random.default_rng(1).integers(0, 256, (4, 7, 3), dtype=np.uint8)
    save(root / "test" / "dog" / "img1.png", colour)
    ds = load_folder(root)
    assert ds.x_train.shape == (6, 3, 4, 7) and ds.x_test.shape == (6, 3, 4, 7)
    assert np.array_equal(ds.x_train.numpy(), np.repeat(fake["train"][0], 3, axis=1))
    assert np.array_equal(ds.x_test[5].numpy(), colour.transpose(2, 0, 1))
    assert np.array_equal(ds.x_test[:5].numpy(), np.repeat(fake["test"][0][:5], 3, axis=1))


def test_jpeg_and_other_spellings_are_read_and_other_files_ignored(tmp_path):
    root = tmp_path / "tree"
    fake = write_tree(root, CLASSES, shape=(16, 16, 3))
    i, j = np.mgrid[0:16, 0:16] * 7
    smooth = np.stack([i + j, 40 + j, 250 - i], axis=2).astype(np.uint8)
    jpeg = save(root / "train" / "cat" / "photo.jpg", smooth, quality=95)
    save(root / "train" / "cat" / "scan.JPEG", smooth, format="JPEG", quality=95)
    png = fake["train"][0][0].transpose(1, 2, 0)
    save(root / "train" / "ant" / "z.PNG", png, format="PNG")
    (root / "train" / "ant" / "notes.txt").write_text("not an image, and not read")
    (root / "train" / ".hidden").mkdir()
    (root / "test" / "dog" / ".DS_Store").write_bytes(b"\0\1junk")
    ds = load_folder(root)
    assert ds.labels_train["3"].tolist() == [0, 0, 0, 1, 1, 1, 1, 2, 2]
    assert np.array_equal(ds.x_train[2].numpy(), fake["train"][0][0])  # ant/z.PNG, exact
    got = ds.x_train[5].numpy().transpose(1, 2, 0)  # cat/photo.jpg (after img0, img1)
    assert np.array_equal(got, np.asarray(Image.open(jpeg).convert("RGB")))
    assert np.abs(got.astype(int) - smooth).mean() < 3
    assert np.array_equal(ds.x_train[6].numpy(), ds.x_train[5].numpy())  # cat/scan.JPEG


def test_image_size_resizes_as_pillow_does(tmp_path):
    root = tmp_path / "tree"
    rng = np.random.default_rng(2)
    shapes = {"a": [(9, 7, 3), (8, 8, 3)], "b": [(12, 20, 3), (3, 5, 3)]}
    files = []
    for split in ("train", "test"):
        for name, sizes in shapes.items():
            for k, shape in enumerate(sizes):
                pixels = rng.integers(0, 256, shape, dtype=np.uint8)
                files.append(save(root / split / name / f"{k}.png", pixels))
    ds = load_folder(root, image_size=8)
    assert ds.x_train.shape == (4, 3, 8, 8) and ds.x_test.shape == (4, 3, 8, 8)
    got = torch.cat([ds.x_train, ds.x_test]).numpy().transpose(0, 2, 3, 1)
    for image, file in zip(got, files, strict=True):
        expected = np.asarray(Image.open(file).convert("RGB").resize((8, 8), RESAMPLE))
        assert np.array_equal(image, expected), file
    assert np.array_equal(got[1], np.asarray(Image.open(files[1])))  # 8x8 already: unchanged


def test_image_size_resizes_greyscale_as_pillow_does(tmp_path):
    root = tmp_path / "tree"
    write_tree(root, CLASSES, shape=(11, 6))
    ds = load_folder(root, image_size=5)
    assert ds.x_train.shape == (6, 1, 5, 5)
    first = Image.open(root / "train" / "ant" / "img0.png").resize((5, 5), RESAMPLE)
    assert np.array_equal(ds.x_train[0, 0].numpy(), np.asarray(first))


def test_differing_sizes_need_image_size(tmp_path):
    root = tmp_path / "tree"
    write_tree(root, CLASSES)
    odd = save(root / "test" / "cat" / "odd.png", np.zeros((7, 5, 3), dtype=np.uint8))
    first = root / "train" / "ant" / "img0.png"
    with pytest.raises(MaxlError, match="pass --image-size N") as err:
        load_folder(root)
    assert str(err.value) == (
        f"{odd} is 5x7 pixels but {first} is 5x6; pass --image-size N to resize every image to NxN"
    )
    assert load_folder(root, image_size=6).x_test.shape == (7, 3, 6, 6)


def test_the_second_load_comes_from_the_cache(tmp_path, monkeypatch, cache):
    root = tmp_path / "tree"
    write_tree(root, FINES)
    first = load_folder(root)
    assert len(list(cache.glob("*.pt"))) == 1
    forbid_opens(monkeypatch)
    again = load_folder(root)
    assert torch.equal(again.x_train, first.x_train) and torch.equal(again.x_test, first.x_test)
    assert again.labels_train.keys() == first.labels_train.keys()
    for level in first.levels:
        assert torch.equal(again.labels_train[level], first.labels_train[level])
        assert torch.equal(again.labels_test[level], first.labels_test[level])
    assert again.class_names == first.class_names
    with pytest.raises(AssertionError, match="was decoded"):  # another size: another cache
        load_folder(root, image_size=4)


def test_a_touched_or_added_file_invalidates_the_cache(tmp_path, monkeypatch, cache):
    root = tmp_path / "tree"
    write_tree(root, CLASSES)
    load_folder(root)
    opens = count_opens(monkeypatch)
    load_folder(root)
    assert opens == []
    touched = root / "test" / "cat" / "img1.png"
    stat = touched.stat()
    os.utime(touched, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    load_folder(root)
    assert len(opens) == 12  # every image decoded again
    opens.clear()
    load_folder(root)
    assert opens == []
    added = np.full((6, 5, 3), 7, dtype=np.uint8)
    save(root / "train" / "dog" / "img9.png", added)
    ds = load_folder(root)
    assert len(opens) == 13 and len(ds.x_train) == 7
    assert np.array_equal(ds.x_train[6].numpy(), added.transpose(2, 0, 1))
    assert len(list(cache.glob("*.pt"))) == 1  # the tree's cache was replaced, not added to
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_a_damaged_cache_is_decoded_again(tmp_path, cache):
    root = tmp_path / "tree"
    fake = write_tree(root, CLASSES)
    load_folder(root)
    (cached,) = cache.glob("*.pt")
    cached.write_bytes(cached.read_bytes()[:100])
    ds = load_folder(root)
    assert np.array_equal(ds.x_train.numpy(), fake["train"][0])
    assert torch.load(cached, weights_only=True)["x_train"].shape == (6, 3, 6, 5)  # rewritten


def test_same_images_as_npz_load_the_same(tmp_path):
    root = tmp_path / "tree"
    fake = write_tree(root, FINES, per=3)
    ds = load_folder(root)
    fine_names = [("animal", "cat"), ("animal", "dog"), ("vehicle", "bus"), ("vehicle", "car"),
                  ("vehicle", "van")]  # fmt: skip
    arrays = {}
    for split in ("train", "test"):
        x, owners = fake[split]
        fine = np.array([fine_names.index(g) for g in owners])
        arrays |= {f"x_{split}": x, f"y_{split}": (fine >= 2).astype(np.int64)}
        arrays[f"fine_{split}"] = fine
    np.savez(tmp_path / "same.npz", **arrays)
    npz = load_npz(tmp_path / "same.npz")
    assert npz.levels == ds.levels == ["2", "5"]
    assert torch.equal(npz.x_train, ds.x_train) and torch.equal(npz.x_test, ds.x_test)
    for level in ds.levels:
        assert torch.equal(npz.labels_train[level], ds.labels_train[level])
        assert torch.equal(npz.labels_test[level], ds.labels_test[level])


def test_load_dataset_knows_folders(tmp_path):
    root = tmp_path / "data" / "tree"
    write_tree(root, CLASSES, shape=(6, 6))
    ds = load_dataset(f"folder:{root}", image_size=3)
    assert ds.name == f"folder:{root}" and ds.x_train.shape == (6, 1, 3, 3)
    ds = load_dataset("folder:tree", data_dir=tmp_path / "data")  # relative: looked up there
    assert ds.name == "folder:tree" and ds.x_train.shape == (6, 1, 6, 6)
    with pytest.raises(MaxlError, match="names no folder; write folder:PATH"):
        load_dataset("folder:")
    with pytest.raises(MaxlError, match=re.escape(f"write folder:{root})")):
        load_dataset(str(root))


# --- errors: one line, naming the file or folder and the fix ---------------------------------


def error(root: Path, **kw) -> str:
    with pytest.raises(MaxlError) as err:
        load_folder(root, **kw)
    message = str(err.value)
    assert "\n" not in message
    return message


def test_mixed_depth_is_refused(tmp_path):
    root = tmp_path / "tree"
    write_tree(root, [("animal", "cat"), ("animal", "dog"), ("plant",)])
    assert error(root) == (
        f"{root / 'train' / 'plant'} holds images but {root / 'train' / 'animal'} holds fine-class "
        "folders; the tree must be all one depth: give every class FINE sub-folders, or none"
    )


def test_a_class_with_images_and_folders_is_refused(tmp_path):
    root = tmp_path / "tree"
    write_tree(root, [("animal", "cat"), ("animal", "dog"), ("plant", "tree")])
    save(root / "train" / "animal" / "stray.png", np.zeros((6, 5, 3), dtype=np.uint8))
    assert error(root).startswith(
        f"{root / 'train' / 'animal'} holds both images and sub-folders; the tree must be all one "
        "depth: move its images into a FINE folder"
    )


def test_too_deep_is_refused(tmp_path):
    root = tmp_path / "tree"
    write_tree(root, [("animal", "cat"), ("plant", "tree"), ("plant", "moss")])
    (root / "test" / "plant" / "moss" / "deeper").mkdir()
    message = error(root)
    assert message.startswith(f"{root / 'test' / 'plant' / 'moss' / 'deeper'} is a folder inside")
    assert "at most two levels deep" in message


def test_a_class_missing_from_test_is_named(tmp_path):
    root = tmp_path / "tree"
    write_tree(root, CLASSES)
    for file in (root / "test" / "cat").iterdir():
        file.unlink()
    (root / "test" / "cat").rmdir()
    assert error(root) == (
        f"{root / 'test' / 'cat'} is missing but {root / 'train' / 'cat'} exists; give train/ and "
        "test/ the same class folders"
    )


def test_a_fine_class_missing_from_train_is_named(tmp_path):
    root = tmp_path / "tree"
    write_tree(root, FINES)
    save(root / "test" / "animal" / "owl" / "1.png", np.zeros((6, 5, 3), dtype=np.uint8))
    assert error(root).startswith(
        f"{root / 'train' / 'animal' / 'owl'} is missing but {root / 'test' / 'animal' / 'owl'}"
    )


def test_an_unreadable_image_is_named(tmp_path):
    root = tmp_path / "tree"
    write_tree(root, CLASSES)
    bad = root / "test" / "dog" / "img1.png"
    bad.write_text("this is not a PNG")
    assert error(root) == (
        f"{bad} is not a readable image (unknown format); replace it with a valid .png/.jpg or "
        "delete it"
    )


def test_a_truncated_image_is_named(tmp_path):
    root = tmp_path / "tree"
    write_tree(root, CLASSES, shape=(30, 30, 3))
    bad = root / "train" / "cat" / "img0.png"
    bad.write_bytes(bad.read_bytes()[:200])
    message = error(root)
    assert message.startswith(f"{bad} is not a readable image (")
    assert message.endswith("; replace it with a valid .png/.jpg or delete it")


def test_an_unreadable_image_is_not_cached_around(tmp_path, cache):
    root = tmp_path / "tree"
    write_tree(root, CLASSES)
    load_folder(root)
    bad = root / "train" / "ant" / "img0.png"
    bad.write_bytes(b"garbage")  # a changed file: its size and mtime differ, so it is decoded
    assert error(root).startswith(f"{bad} is not a readable image")


@pytest.mark.parametrize("fine", [False, True])
def test_an_empty_folder_is_named(tmp_path, fine):
    root = tmp_path / "tree"
    write_tree(root, FINES if fine else CLASSES)
    empty = root / "train" / ("vehicle/lorry" if fine else "ant")
    empty.mkdir(exist_ok=True)
    for file in empty.iterdir():
        file.unlink()
    (empty / "readme.txt").write_text("no images here")
    what = "fine class" if fine else "class"
    assert error(root) == (
        f"{empty} holds no .png/.jpg images; add images to this {what} folder or remove it"
    )


def test_a_split_without_images_is_refused(tmp_path):
    root = tmp_path / "tree"
    write_tree(root, CLASSES)
    for folder in (root / "test").iterdir():
        for file in folder.iterdir():
            file.unlink()
        folder.rmdir()
    assert error(root).startswith(f"{root / 'test'} holds no class folders (so no images); ")
    (root / "test").rmdir()
    assert error(root).startswith(f"{root / 'test'} does not exist; the layout is PATH/train/")


def test_loose_images_are_refused(tmp_path):
    root = tmp_path / "tree"
    write_tree(root, CLASSES)
    loose = save(root / "train" / "x.png", np.zeros((6, 5, 3), dtype=np.uint8))
    assert error(root) == (
        f"{loose} lies outside any class folder; move the images of each class into "
        f"{root / 'train'}/CLASS/"
    )


def test_one_class_or_one_fine_folder_each_is_refused(tmp_path):
    root = tmp_path / "one"
    write_tree(root, [("cat",)])
    assert "a classifier needs two or more class folders" in error(root)
    root = tmp_path / "flat"
    write_tree(root, [("animal", "cat"), ("plant", "tree")])
    assert error(root).startswith(f"every class folder in {root} holds a single FINE folder")


def test_bad_path_or_size_is_refused(tmp_path):
    missing = tmp_path / "nowhere"
    assert error(missing) == (
        f"{missing} is not a folder; pass folder:PATH with a folder holding train/ and test/"
    )
    root = tmp_path / "tree"
    write_tree(root, CLASSES)
    for size in (0, -3, 2.5, True):
        assert "--image-size must be a positive whole number" in error(root, image_size=size)


def test_a_val_folder_is_the_users_own_validation_split(tmp_path, monkeypatch):
    root = tmp_path / "tree"
    write_tree(root, FINES)
    rng = np.random.default_rng(5)
    val = {("animal", "cat"): 2, ("vehicle", "bus"): 1}  # a subset of train's folders
    expected_x, expected_y = [], []
    for group in sorted(val):
        for k in range(val[group]):
            pixels = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
            save(root / "val" / Path(*group) / f"v{k}.png", pixels)
            expected_x.append(pixels.transpose(2, 0, 1))
            expected_y.append(["animal", "vehicle"].index(group[0]))
    ds = load_folder(root)
    assert np.array_equal(ds.x_val.numpy(), np.stack(expected_x))
    assert ds.y_val.tolist() == expected_y == [0, 0, 1]
    forbid_opens(monkeypatch)  # the validation images are cached with the rest
    again = load_folder(root)
    assert torch.equal(again.x_val, ds.x_val) and torch.equal(again.y_val, ds.y_val)
    save(root / "val" / "plant" / "tree" / "v0.png", np.zeros((6, 5, 3), dtype=np.uint8))
    with pytest.raises(MaxlError, match="has no counterpart in"):
        load_folder(root)
