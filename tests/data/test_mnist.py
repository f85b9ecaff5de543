import gzip
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from data_helpers import idx_bytes
from paper_data import MNIST_FILES, FakeMnist, md5

from maxl.data.mnist import MD5, load_mnist
from maxl.errors import MaxlError

OSSCI = "https://ossci-datasets.s3.amazonaws.com/mnist/"
LECUN = "http://yann.lecun.com/exdb/mnist/"


def no_network(url: str, dest: Path) -> None:
    raise AssertionError(f"unexpected download of {url}")


def load(folder, fake, **kw):
    kw.setdefault("fetch", no_network)
    return load_mnist(folder, checksums=kw.pop("checksums", fake.checksums), **kw)


def check(ds, fake: FakeMnist) -> None:
    assert ds.name == "mnist" and not ds.flip and ds.default_level == "10" and ds.levels == ["10"]
    assert ds.x_train.shape == (12, 1, 28, 28) and ds.x_test.shape == (6, 1, 28, 28)
    assert ds.x_train.dtype == torch.uint8 and ds.x_train.is_contiguous()
    assert np.array_equal(ds.x_train[:, 0].numpy(), fake.x["train"])
    assert np.array_equal(ds.x_test[:, 0].numpy(), fake.x["t10k"])
    assert ds.labels_train["10"].tolist() == fake.y["train"].tolist()
    assert ds.labels_test["10"].tolist() == fake.y["t10k"].tolist()
    assert ds.class_names == {"10": [str(d) for d in range(10)]}


def test_gz_files_verified_by_md5(isolated_env, tmp_path):
    fake = FakeMnist()
    check(load(fake.write(tmp_path / "d"), fake), fake)


def test_torchvision_layout_prefers_the_checked_gz(isolated_env, tmp_path):
    fake = FakeMnist()
    raw = fake.write(tmp_path / "tv" / "MNIST" / "raw")  # torchvision keeps .gz and unpacked
    for name in MNIST_FILES:
        (raw / name).write_bytes(b"not read: the .gz beside it is")
    check(load(tmp_path / "tv", fake), fake)


def test_unpacked_files_alone_are_parsed_strictly(isolated_env, tmp_path):
    fake = FakeMnist()
    folder = fake.write(tmp_path / "d", gz=False)
    check(load(folder, fake), fake)
    path = folder / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-28])  # truncated: no checksum, but the IDX length fails
    with pytest.raises(MaxlError, match=r"t10k-images-idx3-ubyte has \d+ bytes .*truncated"):
        load(folder, fake)


def test_download_tries_the_original_site_when_the_mirror_fails(isolated_env, tmp_path):
    fake = FakeMnist()
    fake.write(tmp_path / "partial", names=MNIST_FILES[:3])
    urls = []

    def fetch(url: str, dest: Path) -> None:
        urls.append(url)
        if url.startswith(OSSCI):
            raise OSError("HTTP Error 503")
        dest.write_bytes(fake.gz[url.rsplit("/", 1)[1]])

    check(load(tmp_path / "partial", fake, fetch=fetch), fake)
    assert urls == [OSSCI + "t10k-labels-idx1-ubyte.gz", LECUN + "t10k-labels-idx1-ubyte.gz"]
    assert (isolated_env / "mnist" / "t10k-labels-idx1-ubyte.gz").is_file()


def test_damaged_download_from_the_mirror_is_not_kept(isolated_env, tmp_path):
    fake = FakeMnist()
    fake.write(tmp_path / "partial", names=MNIST_FILES[1:])

    def fetch(url: str, dest: Path) -> None:
        data = fake.gz[url.rsplit("/", 1)[1]]
        dest.write_bytes(data[:-10] if url.startswith(OSSCI) else data)

    check(load(tmp_path / "partial", fake, fetch=fetch), fake)


def test_failed_download_names_every_url(isolated_env):
    fake = FakeMnist()

    def offline(url: str, dest: Path) -> None:
        raise OSError("no route to host")

    with pytest.raises(MaxlError, match=r"amazonaws\.com/mnist/train-images.*lecun.*--data-dir"):
        load(None, fake, fetch=offline)


def test_corrupt_gz_is_named(isolated_env, tmp_path):
    fake = FakeMnist()
    folder = fake.write(tmp_path / "d")
    path = folder / "train-labels-idx1-ubyte.gz"
    raw = bytearray(path.read_bytes())
    raw[-12] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(MaxlError, match=r"train-labels-idx1-ubyte\.gz does not match its MD5.*del"):
        load(folder, fake)


def test_truncated_gz_is_named(isolated_env, tmp_path):
    fake = FakeMnist()
    folder = fake.write(tmp_path / "d")
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(MaxlError, match=r"train-images-idx3-ubyte\.gz does not match its MD5"):
        load(folder, fake)
    with pytest.raises(MaxlError, match=r"train-images-idx3-ubyte\.gz is corrupt or truncated"):
        load(folder, fake, checksums={})


def test_wrong_image_shape_is_named(isolated_env, tmp_path):
    fake = FakeMnist()
    fake.gz["t10k-images-idx3-ubyte.gz"] = gzip.compress(idx_bytes([0] * 6 * 27 * 28, (6, 27, 28)))
    fake.checksums["t10k-images-idx3-ubyte.gz"] = md5(fake.gz["t10k-images-idx3-ubyte.gz"])
    with pytest.raises(MaxlError, match=r"t10k-images-idx3-ubyte\.gz holds uint8 \(6, 27, 28\)"):
        load(fake.write(tmp_path / "d"), fake)


def test_labels_must_be_digits(isolated_env, tmp_path):
    fake = FakeMnist()
    fake.gz["t10k-labels-idx1-ubyte.gz"] = gzip.compress(idx_bytes([1, 2, 3, 4, 5, 10], (6,)))
    fake.checksums["t10k-labels-idx1-ubyte.gz"] = md5(fake.gz["t10k-labels-idx1-ubyte.gz"])
    with pytest.raises(MaxlError, match=r"t10k-labels-idx1-ubyte\.gz has label 10 outside 0\.\.9"):
        load(fake.write(tmp_path / "d"), fake)


def test_published_checksums_are_md5s_of_the_gz_files():
    assert sorted(MD5) == sorted(f"{name}.gz" for name in MNIST_FILES)
    assert all(re.fullmatch(r"md5:[0-9a-f]{32}", value) for value in MD5.values())
