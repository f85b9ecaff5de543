import io
import re
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from paper_data import FakeSvhn, md5

from maxl.data.svhn import MD5, load_svhn
from maxl.errors import MaxlError


def no_network(url: str, dest: Path) -> None:
    raise AssertionError(f"unexpected download of {url}")


def load(folder, fake, **kw):
    kw.setdefault("fetch", no_network)
    return load_svhn(folder, checksums=kw.pop("checksums", fake.checksums), **kw)


def check(ds, fake: FakeSvhn) -> None:
    assert ds.name == "svhn" and not ds.flip and ds.default_level == "10" and ds.levels == ["10"]
    assert ds.x_train.shape == (10, 3, 32, 32) and ds.x_train.dtype == torch.uint8
    assert ds.x_train.is_contiguous()
    assert np.array_equal(ds.x_train.numpy(), fake.x["train"])
    assert np.array_equal(ds.x_test.numpy(), fake.x["test"])
    assert ds.labels_train["10"].tolist() == fake.y["train"].tolist()  # every digit, 0 as 10
    assert ds.labels_test["10"].tolist() == [0, 9, 0, 5]  # stored as 10, 9, 10, 5
    assert ds.class_names == {"10": [str(d) for d in range(10)]}


def test_mat_file_layout_as_written():
    fake = FakeSvhn()
    mat = scipy.io.loadmat(io.BytesIO(fake.raw["test_32x32.mat"]))
    assert mat["X"].shape == (32, 32, 3, 4) and mat["X"].dtype == np.uint8
    assert mat["y"].ravel().tolist() == [10, 9, 10, 5]
    assert mat["X"][5, 7, 2, 3] == fake.x["test"][3, 2, 5, 7]  # X[h, w, c, n]


def test_files_in_the_root_as_torchvision_keeps_them(isolated_env, tmp_path):
    fake = FakeSvhn()
    check(load(fake.write(tmp_path), fake), fake)


def test_svhn_subfolder_under_maxl_data(isolated_env, monkeypatch, tmp_path):
    fake = FakeSvhn()
    fake.write(tmp_path / "shared" / "svhn")
    monkeypatch.setenv("MAXL_DATA", str(tmp_path / "shared"))
    check(load(None, fake), fake)


def test_download_goes_to_the_cache(isolated_env):
    fake = FakeSvhn()
    urls = []

    def fetch(url: str, dest: Path) -> None:
        urls.append(url)
        dest.write_bytes(fake.raw[url.rsplit("/", 1)[1]])

    check(load(None, fake, fetch=fetch), fake)
    base = "http://ufldl.stanford.edu/housenumbers/"
    assert urls == [base + "train_32x32.mat", base + "test_32x32.mat"]
    assert sorted(p.name for p in (isolated_env / "svhn").iterdir()) == sorted(fake.raw)


def test_corrupt_file_is_named(isolated_env, tmp_path):
    fake = FakeSvhn()
    path = fake.write(tmp_path) / "train_32x32.mat"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(MaxlError, match=r"train_32x32\.mat does not match its MD5.*delete it"):
        load(tmp_path, fake)


def test_truncated_file_is_named(isolated_env, tmp_path):
    fake = FakeSvhn()
    path = fake.write(tmp_path) / "test_32x32.mat"
    path.write_bytes(fake.raw["test_32x32.mat"][:-2000])
    with pytest.raises(MaxlError, match=r"test_32x32\.mat does not match its MD5"):
        load(tmp_path, fake)
    with pytest.raises(MaxlError, match=r"test_32x32\.mat is not a readable MATLAB file"):
        load(tmp_path, fake, checksums={})


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"X": np.zeros((28, 28, 3, 2), np.uint8), "y": np.ones((2, 1), np.uint8)},
         r"X is uint8 \(28, 28, 3, 2\), not uint8 \(32, 32, 3, N\)"),
        ({"X": np.zeros((32, 32, 3, 2), np.float64), "y": np.ones((2, 1), np.uint8)},
         r"X is float64"),
        ({"y": np.ones((2, 1), np.uint8)}, r"X is missing"),
        ({"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.ones((3, 1), np.uint8)},
         r"y is uint8 \(3, 1\), not one integer label per image"),
        ({"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.array([[0], [3]], np.uint8)},
         r"y spans 0\.\.3, not 1\.\.10"),
    ],
)  # fmt: skip
def test_wrong_contents_are_named(isolated_env, tmp_path, arrays, message):
    fake = FakeSvhn()
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, arrays)
    fake.raw["test_32x32.mat"] = buffer.getvalue()
    fake.checksums["test_32x32.mat"] = md5(buffer.getvalue())
    with pytest.raises(MaxlError, match=r"test_32x32\.mat: " + message):
        load(fake.write(tmp_path), fake)


def test_published_checksums_are_md5s():
    assert sorted(MD5) == ["test_32x32.mat", "train_32x32.mat"]
    assert all(re.fullmatch(r"md5:[0-9a-f]{32}", value) for value in MD5.values())
