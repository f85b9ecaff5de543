import os
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from paper_data import CIFAR10_NAMES, FakeCifar, cifar_pickle, md5, tar_gz

from maxl.data.cifar import MD5_CIFAR10, MD5_CIFAR100, load_cifar10, load_cifar100
from maxl.errors import MaxlError

# the hierarchy as the task states it, written out independently of the module's tables
SUPER_TO_10 = {0: 1, 1: 2, 2: 5, 3: 6, 4: 5, 5: 6, 6: 6, 7: 3, 8: 0, 9: 7,
               10: 8, 11: 0, 12: 1, 13: 3, 14: 4, 15: 0, 16: 2, 17: 5, 18: 9, 19: 9}  # fmt: skip
TEN_TO_3 = {0: 0, 1: 0, 2: 0, 3: 0, 4: 0, 5: 1, 6: 2, 7: 2, 8: 2, 9: 2}
TRAIN_10 = [f"data_batch_{i}" for i in range(1, 6)]


def no_network(url: str, dest: Path) -> None:
    raise AssertionError(f"unexpected download of {url}")


def load(fake: FakeCifar, data_dir, **kw):
    kw.setdefault("fetch", no_network)
    loader = load_cifar10 if fake.variant == "cifar10" else load_cifar100
    return loader(data_dir, checksums=kw.pop("checksums", fake.checksums), **kw)


def check_cifar10(ds, fake: FakeCifar) -> None:
    x_train, y_train = fake.split(TRAIN_10)
    x_test, y_test = fake.split(["test_batch"])
    assert ds.name == "cifar10" and ds.flip and ds.default_level == "10" and ds.levels == ["10"]
    assert ds.x_train.dtype == torch.uint8 and ds.x_train.is_contiguous()
    assert np.array_equal(ds.x_train.numpy(), x_train)
    assert np.array_equal(ds.x_test.numpy(), x_test)
    assert ds.labels_train["10"].dtype == torch.int64
    assert ds.labels_train["10"].tolist() == y_train["labels"]
    assert ds.labels_test["10"].tolist() == y_test["labels"]
    assert ds.class_names == {"10": CIFAR10_NAMES}


def test_row_format_is_red_green_blue_planes(isolated_env, tmp_path):
    row = np.zeros((1, 3072), np.uint8)
    row[0, 1], row[0, 1024 + 2 * 32 + 3], row[0, 3071] = 10, 20, 30  # R(0,1) G(2,3) B(31,31)
    fake = FakeCifar()
    fake.raw["test_batch"] = cifar_pickle({b"data": row, b"labels": [4]})
    fake.checksums["test_batch"] = md5(fake.raw["test_batch"])
    fake.write_folder(tmp_path)
    image = load(fake, tmp_path).x_test[0]
    assert (image[0, 0, 1], image[1, 2, 3], image[2, 31, 31]) == (10, 20, 30)
    assert int(image.sum()) == 60


@pytest.mark.parametrize("py2", [True, False], ids=["python2-str-keys", "bytes-keys"])
def test_cifar10_from_torchvision_folder(isolated_env, tmp_path, py2):
    fake = FakeCifar(py2=py2)
    fake.write_folder(tmp_path / "tv")  # torchvision: ROOT/cifar-10-batches-py/...
    check_cifar10(load(fake, tmp_path / "tv"), fake)


def test_cifar10_from_tarball_in_memory(isolated_env, tmp_path):
    fake = FakeCifar()
    fake.write_archive(tmp_path / "d")
    check_cifar10(load(fake, tmp_path / "d"), fake)
    assert os.listdir(tmp_path / "d") == [fake.archive]  # nothing was extracted


def test_cifar100_hierarchy_from_folder_and_tarball(isolated_env, tmp_path):
    fake = FakeCifar("cifar100", seed=3)
    from_folder = load(fake, fake.write_folder(tmp_path / "tv").parent)
    from_tar = load(fake, fake.write_archive(tmp_path / "tar").parent)
    for ds in (from_folder, from_tar):
        assert ds.name == "cifar100" and ds.flip and ds.default_level == "100"
        assert ds.levels == ["3", "10", "20", "100"]
        for split, name in (("train", "train"), ("test", "test")):
            x, y = fake.split([name])
            labels = getattr(ds, f"labels_{split}")
            assert np.array_equal(getattr(ds, f"x_{split}").numpy(), x)
            assert labels["100"].tolist() == y["fine_labels"]
            assert labels["20"].tolist() == y["coarse_labels"]
            assert labels["10"].tolist() == [SUPER_TO_10[c] for c in y["coarse_labels"]]
            assert labels["3"].tolist() == [TEN_TO_3[SUPER_TO_10[c]] for c in y["coarse_labels"]]
        assert ds.class_names["100"] == [f"fine{i}" for i in range(100)]
        assert ds.class_names["20"] == [f"coarse{i}" for i in range(20)]
        assert len(ds.class_names["10"]) == 10 and len(ds.class_names["3"]) == 3
        assert [ds.num_classes(level) for level in ds.levels] == [3, 10, 20, 100]


def test_hierarchy_maps_are_nested_and_onto():
    import maxl.data.cifar as cifar

    assert dict(enumerate(cifar.TO_10)) == SUPER_TO_10
    assert dict(enumerate(cifar.TO_3)) == TEN_TO_3
    assert sorted(set(cifar.TO_10)) == list(range(10)) and sorted(set(cifar.TO_3)) == [0, 1, 2]


def test_download_goes_to_the_cache_and_is_reused(isolated_env):
    fake = FakeCifar()
    urls = []

    def fetch(url: str, dest: Path) -> None:
        urls.append(url)
        dest.write_bytes(fake.archive_bytes)

    check_cifar10(load(fake, None, fetch=fetch), fake)
    assert urls == ["https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"]
    assert (isolated_env / "cifar10" / fake.archive).is_file()
    check_cifar10(load(fake, None), fake)  # found in the cache: no second download


def test_explicit_folder_wins_over_copies_elsewhere(isolated_env, monkeypatch, tmp_path):
    fake = FakeCifar()
    fake.write_archive(tmp_path / "explicit")
    bad = fake.write_folder(tmp_path / "env")  # an unpacked copy under $MAXL_DATA, damaged
    (bad / "data_batch_1").write_bytes(b"damaged")
    monkeypatch.setenv("MAXL_DATA", str(tmp_path / "env"))
    check_cifar10(load(fake, tmp_path / "explicit"), fake)
    # within one root the unpacked folder comes first, so a damaged tarball beside it is unread
    fake.write_folder(tmp_path / "both")
    (tmp_path / "both" / fake.archive).write_bytes(b"damaged")
    check_cifar10(load(fake, tmp_path / "both"), fake)


def test_incomplete_folder_falls_back_to_the_tarball(isolated_env, tmp_path):
    fake = FakeCifar()
    (fake.write_folder(tmp_path / "d") / "test_batch").unlink()
    fake.write_archive(tmp_path / "d")
    check_cifar10(load(fake, tmp_path / "d"), fake)


def test_corrupt_unpacked_file_is_named(isolated_env, tmp_path):
    fake = FakeCifar()
    path = fake.write_folder(tmp_path / "d") / "data_batch_3"
    raw = bytearray(path.read_bytes())
    raw[200] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(MaxlError, match=r"data_batch_3 does not match its MD5 checksum.*delete"):
        load(fake, tmp_path / "d")


def test_truncated_tarball_is_named(isolated_env, tmp_path):
    fake = FakeCifar("cifar100")
    path = fake.write_archive(tmp_path / "d")
    path.write_bytes(fake.archive_bytes[:-1000])
    with pytest.raises(MaxlError, match=r"cifar-100-python\.tar\.gz does not match its MD5"):
        load(fake, tmp_path / "d")
    unchecked = {k: v for k, v in fake.checksums.items() if k != fake.archive}
    with pytest.raises(MaxlError, match=r"cifar-100-python\.tar\.gz is not a readable tar archive"):
        load(fake, tmp_path / "d", checksums=unchecked)


def test_damaged_member_is_caught_by_its_own_checksum(isolated_env, tmp_path):
    fake = FakeCifar()
    members = {f"{fake.folder}/{name}": data for name, data in fake.raw.items()}
    members[f"{fake.folder}/data_batch_2"] = fake.raw["data_batch_1"]
    (tmp_path / fake.archive).write_bytes(tar_gz(members))
    checksums = {k: v for k, v in fake.checksums.items() if k != fake.archive}
    with pytest.raises(MaxlError, match=r"tar\.gz \(member cifar-10-batches-py/data_batch_2\) "):
        load(fake, tmp_path, checksums=checksums)


def test_tarball_without_a_file_is_named(isolated_env, tmp_path):
    fake = FakeCifar()
    members = {f"{fake.folder}/{n}": d for n, d in fake.raw.items() if n != "batches.meta"}
    (tmp_path / fake.archive).write_bytes(tar_gz(members))
    with pytest.raises(MaxlError, match=r"has no member cifar-10-batches-py/batches\.meta"):
        load(fake, tmp_path, checksums={})


def test_a_pickle_is_not_loaded_before_its_checksum_matches(isolated_env, tmp_path):
    marker = tmp_path / "code-ran"

    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    fake = FakeCifar()
    folder = fake.write_folder(tmp_path / "d")
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": Payload()}, protocol=2))
    with pytest.raises(MaxlError, match=r"test_batch does not match its MD5"):
        load(fake, tmp_path / "d")
    # even when the caller's checksum lets it through, no global outside numpy's is resolved
    fake.checksums["test_batch"] = md5((folder / "test_batch").read_bytes())
    with pytest.raises(MaxlError, match=r"test_batch is not a readable CIFAR pickle.*mkdir"):
        load(fake, tmp_path / "d")
    assert not marker.exists()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({b"data": np.zeros((3, 1024), np.uint8), b"labels": [0, 1, 2]},
         r"'data' is uint8 \(3, 1024\), not uint8 \[N, 3072\]"),
        ({b"data": np.zeros((3, 3072), np.float32), b"labels": [0, 1, 2]},
         r"'data' is float32 \(3, 3072\)"),
        ({b"data": np.zeros((3, 3072), np.uint8), b"labels": [0, 1]},
         r"'labels' is int64 \(2,\), not 3 integer labels"),
        ({b"data": np.zeros((3, 3072), np.uint8), b"labels": [0, 1, 10]},
         r"'labels' spans 0\.\.10, outside 0\.\.9"),
        ({b"labels": [0, 1, 2]}, r"'data' is NoneType"),
        ([1, 2, 3], r"holds a list, not a dict"),
    ],
)  # fmt: skip
def test_wrong_contents_are_named(isolated_env, tmp_path, entry, message):
    fake = FakeCifar()
    fake.raw["data_batch_4"] = cifar_pickle(entry)
    fake.checksums["data_batch_4"] = md5(fake.raw["data_batch_4"])
    fake.write_folder(tmp_path)
    with pytest.raises(MaxlError, match=r"data_batch_4\b.*" + message):
        load(fake, tmp_path)


def test_truncated_pickle_without_checksum_is_named(isolated_env, tmp_path):
    fake = FakeCifar("cifar100")
    folder = fake.write_folder(tmp_path)
    (folder / "meta").write_bytes(fake.raw["meta"][:-20])
    checksums = {k: v for k, v in fake.checksums.items() if k != "meta"}
    with pytest.raises(MaxlError, match=r"cifar-100-python/meta is not a readable CIFAR pickle"):
        load(fake, tmp_path, checksums=checksums)


def test_published_checksums_are_complete_md5s():
    for table, archive, files in (
        (MD5_CIFAR10, "cifar-10-python.tar.gz", [*TRAIN_10, "test_batch", "batches.meta"]),
        (MD5_CIFAR100, "cifar-100-python.tar.gz", ["train", "test", "meta"]),
    ):
        assert sorted(table) == sorted([archive, *files])
        assert all(re.fullmatch(r"md5:[0-9a-f]{32}", value) for value in table.values())
