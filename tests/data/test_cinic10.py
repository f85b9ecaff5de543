import re
from pathlib import Path

import numpy as np
import pytest
import torch
from paper_data import CIFAR10_NAMES, FakeCinic, png, tar_gz

from maxl.data.cinic10 import MD5, PER_CLASS, load_cinic10
from maxl.errors import MaxlError


def no_network(url: str, dest: Path) -> None:
    raise AssertionError(f"unexpected download of {url}")


def load(folder, fake, **kw):
    kw.setdefault("fetch", no_network)
    kw.setdefault("checksums", fake.checksums)
    return load_cinic10(folder, per_class=fake.per_class, **kw)


def check(ds, fake: FakeCinic) -> None:
    assert ds.name == "cinic10" and ds.flip and ds.default_level == "10" and ds.levels == ["10"]
    assert ds.class_names == {"10": CIFAR10_NAMES}
    for split in ("train", "test"):  # `valid` is not used
        x, y = fake.arrays(split)
        images = getattr(ds, f"x_{split}")
        assert images.dtype == torch.uint8 and images.shape == (20, 3, 32, 32)
        assert np.array_equal(images.numpy(), x)
        assert getattr(ds, f"labels_{split}")["10"].tolist() == y
    grey = [file for _, file, _ in fake.expected["train"]].index("n00_0.png")
    assert torch.equal(ds.x_train[grey, 0], ds.x_train[grey, 2])  # greyscale, made RGB


def test_unpacked_folder(isolated_env, tmp_path):
    fake = FakeCinic()
    fake.write_folder(tmp_path / "CINIC-10")
    check(load(tmp_path, fake), fake)
    check(load(tmp_path / "CINIC-10", fake), fake)  # --data-dir naming the folder itself


def test_tarball_read_in_memory(isolated_env, tmp_path):
    fake = FakeCinic()
    fake.write_archive(tmp_path)
    check(load(tmp_path, fake), fake)
    assert [p.name for p in tmp_path.iterdir()] == ["CINIC-10.tar.gz"]  # nothing extracted


def test_download_goes_to_the_cache(isolated_env):
    fake = FakeCinic()
    urls = []

    def fetch(url: str, dest: Path) -> None:
        urls.append(url)
        dest.write_bytes(fake.archive_bytes)

    check(load(None, fake, fetch=fetch), fake)
    assert urls == ["https://datashare.ed.ac.uk/bitstream/handle/10283/3192/CINIC-10.tar.gz"]
    assert (isolated_env / "cinic10" / "CINIC-10.tar.gz").is_file()


def test_corrupt_png_is_named(isolated_env, tmp_path):
    fake = FakeCinic()
    fake.write_folder(tmp_path)
    path = tmp_path / "test" / "frog" / "cifar10-test-601.png"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # inside the image data: its CRC no longer matches
    path.write_bytes(bytes(raw))
    with pytest.raises(
        MaxlError, match=r"test/frog/cifar10-test-601\.png is not a readable PNG.*unpack"
    ):
        load(tmp_path, fake)


def test_truncated_png_is_named(isolated_env, tmp_path):
    fake = FakeCinic()
    fake.write_folder(tmp_path)
    path = tmp_path / "train" / "ship" / "n00_8.png"
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(MaxlError, match=r"train/ship/n00_8\.png is not a readable PNG image"):
        load(tmp_path, fake)


def test_wrong_image_size_is_named(isolated_env, tmp_path):
    fake = FakeCinic()
    fake.write_folder(tmp_path)
    path = tmp_path / "test" / "dog" / "n00_5.png"
    path.write_bytes(png(np.zeros((3, 31, 32), np.uint8)))
    with pytest.raises(MaxlError, match=r"test/dog/n00_5\.png is 32x31 pixels, not 32x32"):
        load(tmp_path, fake)


def test_missing_image_is_counted(isolated_env, tmp_path):
    fake = FakeCinic()
    fake.write_folder(tmp_path)
    (tmp_path / "train" / "deer" / "n00_4.png").unlink()
    with pytest.raises(MaxlError, match=r"train/deer holds 1 PNG images, not 2; unpack CINIC"):
        load(tmp_path, fake)


def test_truncated_tarball_is_named(isolated_env, tmp_path):
    fake = FakeCinic()
    path = fake.write_archive(tmp_path)
    path.write_bytes(fake.archive_bytes[:-500])
    with pytest.raises(MaxlError, match=r"CINIC-10\.tar\.gz does not match its MD5.*delete it"):
        load(tmp_path, fake)
    with pytest.raises(MaxlError, match=r"CINIC-10\.tar\.gz is not a readable tar archive"):
        load(tmp_path, fake, checksums={})


def test_bad_member_is_named(isolated_env, tmp_path):
    fake = FakeCinic()
    members = {f"./{path}": data for path, data in fake.files.items()}
    members["./test/cat/n00_3.png"] = b"not a png"
    (tmp_path / "CINIC-10.tar.gz").write_bytes(tar_gz(members))
    with pytest.raises(
        MaxlError, match=r"tar\.gz \(member test/cat/n00_3\.png\) is not a readable"
    ):
        load(tmp_path, fake, checksums={})


def test_image_count_is_enforced_by_default(isolated_env, tmp_path):
    fake = FakeCinic()
    fake.write_folder(tmp_path)
    with pytest.raises(MaxlError, match=r"train/airplane holds 2 PNG images, not 9000"):
        load_cinic10(tmp_path, fetch=no_network)
    assert PER_CLASS == 9000
    assert re.fullmatch(r"md5:[0-9a-f]{32}", MD5["CINIC-10.tar.gz"])
