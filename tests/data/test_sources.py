import gzip
import hashlib
import os
from dataclasses import replace
from pathlib import Path

import pytest

from maxl.data import sources
from maxl.data.sources import RemoteFiles, cache_dir, find_file, obtain, read_verified, search_roots
from maxl.errors import MaxlError

CONTENT = {"a.bin": b"alpha" * 100, "b.bin": b"beta" * 50}
SUMS = {k: hashlib.sha256(v).hexdigest() for k, v in CONTENT.items()}
SPEC = RemoteFiles(
    dataset="toy",
    files=("a.bin", "b.bin"),
    base_url="http://example.invalid/toy/",
    layouts=("", "Toy/raw"),
    fix="delete it and retry",
)


def write(folder: Path, name: str, *, gz: bool = True, data: bytes | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = CONTENT[name] if data is None else data
    path = folder / (name + ".gz" if gz else name)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def no_network(url: str, dest: Path) -> None:
    raise AssertionError(f"unexpected download of {url}")


def test_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "maxl"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "maxl"


def test_search_order(isolated_env, monkeypatch, tmp_path):
    monkeypatch.setenv("MAXL_DATA", os.pathsep.join([str(tmp_path / "m1"), str(tmp_path / "m2")]))
    roots = search_roots(tmp_path / "explicit", [tmp_path / "sys"])
    expected = ["explicit", "m1", "m2", "sys"]
    assert roots == [tmp_path / p for p in expected] + [isolated_env]
    assert search_roots(None, [])[-1] == isolated_env


def test_find_file_prefers_earlier_roots_and_accepts_layouts(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    in_second = write(second / "Toy" / "raw", "a.bin", gz=False)
    assert find_file("a.bin", [first, second], ["", "Toy/raw"]) == in_second
    in_first = write(first, "a.bin", gz=True)
    assert find_file("a.bin", [first, second], ["", "Toy/raw"]) == in_first
    assert find_file("b.bin", [first, second], ["", "Toy/raw"]) is None


def test_obtain_reads_gz_and_plain_files_across_roots(isolated_env, tmp_path):
    write(tmp_path / "explicit", "a.bin", gz=True)
    write(tmp_path / "sys" / "Toy" / "raw", "b.bin", gz=False)
    spec = replace(SPEC, system_dirs=(tmp_path / "sys",))
    found = obtain(spec, SUMS, tmp_path / "explicit", fetch=no_network)
    assert {k: v.data for k, v in found.items()} == CONTENT
    assert found["a.bin"].path == tmp_path / "explicit" / "a.bin.gz"
    assert found["b.bin"].path == tmp_path / "sys" / "Toy" / "raw" / "b.bin"


def test_maxl_data_with_dataset_subfolder(isolated_env, monkeypatch, tmp_path):
    monkeypatch.setenv("MAXL_DATA", str(tmp_path / "shared"))
    for name in CONTENT:
        write(tmp_path / "shared" / "toy", name)
    found = obtain(SPEC, SUMS, fetch=no_network)
    assert found["b.bin"].path.parent == tmp_path / "shared" / "toy"


def test_missing_files_are_downloaded_into_the_cache(isolated_env, tmp_path):
    write(tmp_path / "explicit", "a.bin")
    calls = []

    def fake_fetch(url: str, dest: Path) -> None:
        calls.append(url)
        assert dest.parent == isolated_env / "toy"  # a temp file beside the final one
        dest.write_bytes(gzip.compress(CONTENT[url.rsplit("/", 1)[1].removesuffix(".gz")]))

    found = obtain(SPEC, SUMS, tmp_path / "explicit", fetch=fake_fetch)
    assert calls == ["http://example.invalid/toy/b.bin.gz"]
    assert found["b.bin"].path == isolated_env / "toy" / "b.bin.gz"
    assert found["b.bin"].data == CONTENT["b.bin"]
    assert sorted(p.name for p in (isolated_env / "toy").iterdir()) == ["b.bin.gz"]
    # a second call finds the cached copy and downloads nothing
    assert obtain(SPEC, SUMS, tmp_path / "explicit", fetch=no_network)["b.bin"].data


def test_module_fetch_is_used_by_default(isolated_env, monkeypatch):
    urls = []

    def fake_fetch(url: str, dest: Path) -> None:
        urls.append(url)
        dest.write_bytes(gzip.compress(CONTENT[url.rsplit("/", 1)[1].removesuffix(".gz")]))

    monkeypatch.setattr(sources, "fetch_url", fake_fetch)
    assert set(obtain(SPEC, SUMS)) == {"a.bin", "b.bin"}
    assert len(urls) == 2


def test_download_failure_names_the_url_and_leaves_nothing(isolated_env):
    def failing(url: str, dest: Path) -> None:
        dest.write_bytes(b"partial")
        raise OSError("network unreachable")

    with pytest.raises(MaxlError, match=r"http://example\.invalid/toy/a\.bin\.gz.*--data-dir"):
        obtain(SPEC, SUMS, fetch=failing)
    assert list((isolated_env / "toy").iterdir()) == []


def test_damaged_download_is_not_kept(isolated_env):
    def wrong(url: str, dest: Path) -> None:
        dest.write_bytes(gzip.compress(b"something else"))

    with pytest.raises(MaxlError, match=r"checksum.*download from http://example\.invalid"):
        obtain(SPEC, SUMS, fetch=wrong)
    assert list((isolated_env / "toy").iterdir()) == []


def test_unwritable_cache_is_a_clear_error(isolated_env, monkeypatch, tmp_path):
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    with pytest.raises(MaxlError, match="cannot write the download cache"):
        obtain(SPEC, SUMS, fetch=no_network)


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[: len(raw) // 2],  # truncated gzip stream
        lambda raw: raw[:20] + bytes(b ^ 0xFF for b in raw[20:30]) + raw[30:],  # flipped bytes
        lambda raw: b"not gzip at all",
    ],
)
def test_broken_gzip_is_a_clear_error(tmp_path, damage):
    path = tmp_path / "a.bin.gz"
    path.write_bytes(damage(gzip.compress(CONTENT["a.bin"])))
    with pytest.raises(MaxlError, match=r"a\.bin\.gz .*delete it and retry"):
        read_verified(path, SUMS["a.bin"], "delete it and retry")


def test_checksum_is_of_the_decompressed_bytes(tmp_path):
    gz = write(tmp_path, "a.bin", gz=True)
    plain = write(tmp_path, "a.bin", gz=False)
    assert read_verified(gz, SUMS["a.bin"], "fix") == CONTENT["a.bin"]
    assert read_verified(plain, SUMS["a.bin"], "fix") == CONTENT["a.bin"]
    assert read_verified(plain, None, "fix") == CONTENT["a.bin"]
    plain.write_bytes(CONTENT["a.bin"][:-1])
    with pytest.raises(MaxlError, match=r"a\.bin does not match its SHA-256.*reinstall"):
        read_verified(plain, SUMS["a.bin"], "reinstall")


def test_bad_file_found_first_is_reported_not_skipped(isolated_env, tmp_path):
    write(tmp_path / "explicit", "a.bin", data=b"corrupt")
    for name in CONTENT:
        write(tmp_path / "sys", name)
    spec = replace(SPEC, system_dirs=(tmp_path / "sys",))
    with pytest.raises(MaxlError, match=r"explicit/a\.bin\.gz does not match"):
        obtain(spec, SUMS, tmp_path / "explicit", fetch=no_network)


def test_md5_and_sha256_checksums(tmp_path):
    path = write(tmp_path, "a.bin", gz=False)
    md5 = "md5:" + hashlib.md5(CONTENT["a.bin"]).hexdigest()
    sha = "sha256:" + SUMS["a.bin"].upper()
    for checksum in (md5, sha, SUMS["a.bin"]):
        assert read_verified(path, checksum, "fix") == CONTENT["a.bin"]
    with pytest.raises(MaxlError, match=r"a\.bin does not match its MD5 checksum.*fix"):
        read_verified(path, "md5:" + "0" * 32, "fix")


def test_file_checksum_is_of_the_gz_bytes_on_disk(isolated_env, tmp_path):
    path = write(tmp_path, "a.bin", gz=True)
    gz_md5 = "md5:" + hashlib.md5(path.read_bytes()).hexdigest()
    assert read_verified(path, None, "fix", file_checksum=gz_md5) == CONTENT["a.bin"]
    spec = replace(SPEC, files=("a.bin",))
    assert obtain(spec, {"a.bin.gz": gz_md5}, tmp_path, fetch=no_network)["a.bin"].data
    path.write_bytes(gzip.compress(CONTENT["a.bin"], mtime=12345))  # same content, other bytes
    with pytest.raises(MaxlError, match=r"a\.bin\.gz does not match its MD5 checksum"):
        obtain(spec, {"a.bin.gz": gz_md5}, tmp_path, fetch=no_network)


def test_suffixes_set_the_preferred_form(isolated_env, tmp_path):
    write(tmp_path, "a.bin", gz=True)
    write(tmp_path, "a.bin", gz=False, data=b"other")
    spec = replace(SPEC, files=("a.bin",), suffixes=(".gz", ""))
    assert obtain(spec, {}, tmp_path, fetch=no_network)["a.bin"].data == CONTENT["a.bin"]
    assert find_file("a.bin", [tmp_path], [""], ("",)) == tmp_path / "a.bin"


def test_mirrors_are_tried_in_turn(isolated_env):
    spec = replace(SPEC, mirrors=("http://mirror.invalid/",))
    urls = []

    def fetch(url: str, dest: Path) -> None:
        urls.append(url)
        if url.startswith("http://example.invalid/"):
            raise OSError("refused")
        dest.write_bytes(gzip.compress(CONTENT[url.rsplit("/", 1)[1].removesuffix(".gz")]))

    assert obtain(spec, SUMS, fetch=fetch)["b.bin"].data == CONTENT["b.bin"]
    assert urls == [
        "http://example.invalid/toy/a.bin.gz",
        "http://mirror.invalid/a.bin.gz",
        "http://example.invalid/toy/b.bin.gz",
        "http://mirror.invalid/b.bin.gz",
    ]
