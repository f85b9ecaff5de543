import numpy as np
import pytest
import torch

from maxl.assembly.datasets import load_dataset
from maxl.data import channel_stats, to_float
from maxl.errors import MaxlError

RNG = np.random.default_rng(0)


def arrays(n=6, m=4, shape=(5, 7), dtype=np.uint8, classes=3):
    x_train = RNG.integers(0, 256, (n, *shape)).astype(dtype)
    x_test = RNG.integers(0, 256, (m, *shape)).astype(dtype)
    return {
        "x_train": x_train,
        "y_train": np.arange(n) % classes,
        "x_test": x_test,
        "y_test": np.arange(m) % classes,
    }


def save(tmp_path, **data):
    path = tmp_path / "data.npz"
    np.savez(path, **data)
    return path


def load(path):
    return load_dataset(f"npz:{path}")


def test_grayscale_nhw(tmp_path):
    data = arrays()
    ds = load(save(tmp_path, **data))
    assert ds.name == f"npz:{tmp_path / 'data.npz'}"
    assert ds.x_train.shape == (6, 1, 5, 7) and ds.x_train.dtype == torch.uint8
    assert np.array_equal(ds.x_train[:, 0].numpy(), data["x_train"])
    assert ds.levels == ["3"] and ds.default_level == "3" and not ds.flip
    assert ds.labels_train["3"].dtype == torch.int64
    assert ds.labels_test["3"].tolist() == [0, 1, 2, 0]
    assert ds.class_names == {}


def test_nhwc_is_transposed(tmp_path):
    data = arrays(shape=(5, 7, 3))
    ds = load(save(tmp_path, **data))
    assert ds.x_train.shape == (6, 3, 5, 7) and ds.x_train.is_contiguous()
    assert ds.x_train[2, 1, 4, 6] == data["x_train"][2, 4, 6, 1]


@pytest.mark.parametrize("shape", [(1, 5, 7), (3, 5, 4), (3, 4, 4), (4, 9, 9)])
def test_nchw_kept(tmp_path, shape):
    # dim 1 of 1 or 3 wins even when the last dim is also 1/3/4; (4, H, W) is NCHW if W is not
    data = arrays(shape=shape)
    ds = load(save(tmp_path, **data))
    assert np.array_equal(ds.x_train.numpy(), data["x_train"])


def test_rgba_nhwc(tmp_path):
    ds = load(save(tmp_path, **arrays(shape=(9, 9, 4))))
    assert ds.x_train.shape == (6, 4, 9, 9)


@pytest.mark.parametrize("shape", [(5, 7, 2), (2, 5, 7), (5, 5, 7, 3)])
def test_ambiguous_layout_rejected(tmp_path, shape):
    # no 1/3-sized dim 1, no 1/3/4-sized last dim (or 5-D): neither NCHW nor NHWC
    data = arrays(shape=shape)
    with pytest.raises(MaxlError, match=r"x_train has shape .*\(N,H,W\)"):
        load(save(tmp_path, **data))


def test_wrong_rank_rejected(tmp_path):
    data = arrays()
    data["x_test"] = data["x_test"].reshape(4, 35)
    with pytest.raises(MaxlError, match="x_test has shape"):
        load(save(tmp_path, **data))


def test_float_in_unit_range_is_scaled(tmp_path):
    data = arrays()
    x = data["x_train"].astype(np.float32) / 255
    ds = load(save(tmp_path, **{**data, "x_train": x, "x_test": data["x_test"] / 255.0}))
    assert np.array_equal(ds.x_train[:, 0].numpy(), data["x_train"])
    assert np.array_equal(ds.x_test[:, 0].numpy(), data["x_test"])


def test_floats_outside_the_byte_rule_are_kept_as_given_never_quantised(tmp_path):
    data = arrays()
    x = np.full((6, 5, 7), 100.4, dtype=np.float64)
    x[0, 0, 0], x[0, 0, 1], x[0, 0, 2] = -3.0, 300.0, 2.5
    ds = load(save(tmp_path, **{**data, "x_train": x, "x_test": x[:4]}))
    assert ds.x_train.dtype == torch.float32
    assert torch.equal(ds.x_train[:, 0], torch.tensor(x, dtype=torch.float32))
    normalised = (np.random.default_rng(0).random((6, 5, 7)) - 0.5) / 0.3  # about ±1.7
    ds = load(save(tmp_path, **{**data, "x_train": normalised, "x_test": normalised[:4]}))
    assert torch.equal(ds.x_test[:, 0], torch.tensor(normalised[:4], dtype=torch.float32))


def test_whole_floats_in_byte_range_become_uint8_and_a_mix_is_refused(tmp_path):
    data = arrays()
    x = np.full((6, 5, 7), 100.0)
    x[0, 0, :3] = 0.0, 255.0, 7.0
    ds = load(save(tmp_path, **{**data, "x_train": x, "x_test": x[:4]}))
    assert ds.x_train.dtype == torch.uint8 and ds.x_train[0, 0, 0, :4].tolist() == [0, 255, 7, 100]
    mixed = {**data, "x_train": x - 50.5, "x_test": data["x_test"].astype(np.uint8)}
    with pytest.raises(MaxlError, match=r"mix uint8 images and float ones outside 0\.\.1"):
        load(save(tmp_path, **mixed))


def test_float_scale_is_judged_over_both_splits(tmp_path):
    data = arrays()
    ds = load(save(tmp_path, **{**data, "x_train": np.full((6, 5, 7), 0.5),
                                "x_test": np.full((4, 5, 7), 200.0)}))  # fmt: skip
    assert int(ds.x_train.max()) == 0  # not scaled: 0.5 rounds half to even
    assert int(ds.x_test.max()) == 200


@pytest.mark.parametrize("dtype", [np.int64, np.uint16, bool])
def test_other_image_dtypes_rejected(tmp_path, dtype):
    data = arrays()
    with pytest.raises(MaxlError, match=r"x_train has dtype .* uint8"):
        load(save(tmp_path, **{**data, "x_train": data["x_train"].astype(dtype)}))


def test_nan_images_rejected(tmp_path):
    data = arrays()
    x = data["x_test"].astype(np.float32)
    x[0, 0, 0] = np.nan
    with pytest.raises(MaxlError, match="x_test contains NaN"):
        load(save(tmp_path, **{**data, "x_test": x}))


def test_mismatched_image_shapes(tmp_path):
    data = arrays()
    data["x_test"] = RNG.integers(0, 256, (4, 5, 8)).astype(np.uint8)
    with pytest.raises(MaxlError, match=r"x_train images are \(1, 5, 7\) but x_test .*\(1, 5, 8\)"):
        load(save(tmp_path, **data))


@pytest.mark.parametrize(
    "key, value, words",
    [
        ("y_train", np.arange(6) * 0.5, r"y_train has dtype float64; labels must be integers"),
        ("y_test", np.array([0, 1, 2]), r"y_test has shape \(3,\) but there are 4 images"),
        ("y_train", np.zeros((6, 2), dtype=np.int64), r"y_train has shape \(6, 2\)"),
        ("y_test", np.array([0, -1, 2, 1]), r"y_test has negative label -1"),
    ],
)
def test_bad_labels(tmp_path, key, value, words):
    with pytest.raises(MaxlError, match=words):
        load(save(tmp_path, **{**arrays(), key: value}))


def test_column_labels_and_unsigned_accepted(tmp_path):
    data = arrays()
    data["y_train"] = data["y_train"].astype(np.uint8).reshape(6, 1)
    ds = load(save(tmp_path, **data))
    assert ds.labels_train["3"].tolist() == [0, 1, 2, 0, 1, 2]


def test_class_count_spans_train_and_test(tmp_path):
    data = {**arrays(), "y_test": np.array([0, 4, 1, 1])}
    ds = load(save(tmp_path, **data))
    assert ds.levels == ["5"] and ds.num_classes() == 5


def test_single_class_rejected(tmp_path):
    data = {**arrays(), "y_train": np.zeros(6, int), "y_test": np.zeros(4, int)}
    with pytest.raises(MaxlError, match="single class"):
        load(save(tmp_path, **data))


def test_fine_labels_add_a_level(tmp_path):
    data = arrays(classes=2)
    fine_train = np.array([0, 3, 4, 1, 2, 5])  # primary = fine % 2 (0,1,0,1,0,1)
    fine_test = np.array([4, 1, 0, 5])
    data["y_train"], data["y_test"] = fine_train % 2, fine_test % 2
    ds = load(save(tmp_path, **data, fine_train=fine_train, fine_test=fine_test))
    assert ds.levels == ["2", "6"] and ds.default_level == "2"
    assert ds.labels_train["6"].tolist() == fine_train.tolist()
    assert ds.labels_test["2"].tolist() == [0, 1, 0, 1]


def test_fine_labels_must_nest(tmp_path):
    data = arrays(classes=2)  # primary: train 0,1,0,1,0,1; test 0,1,0,1
    fine_train = np.array([0, 1, 2, 3, 4, 5])  # fine 0 under primary 0
    fine_test = np.array([2, 0, 4, 5])  # test image 1: fine 0 under primary 1
    with pytest.raises(MaxlError, match=r"fine class 0 appears under primary classes \[0, 1\]"):
        load(save(tmp_path, **data, fine_train=fine_train, fine_test=fine_test))
    fine_test[1] = 1
    ds = load(save(tmp_path, **data, fine_train=fine_train, fine_test=fine_test))
    assert ds.levels == ["2", "6"]


def test_fine_labels_must_be_finer(tmp_path):
    data = arrays(classes=3)
    with pytest.raises(MaxlError, match=r"fine_train/fine_test have 3 classes .* must be finer"):
        load(save(tmp_path, **data, fine_train=data["y_train"], fine_test=data["y_test"]))


def test_fine_labels_both_or_neither(tmp_path):
    data = arrays()
    with pytest.raises(MaxlError, match="has fine_test but not fine_train"):
        load(save(tmp_path, **data, fine_test=data["y_test"]))


def test_missing_arrays_are_listed(tmp_path):
    data = arrays()
    del data["y_test"], data["x_test"]
    with pytest.raises(MaxlError, match=r"lacks x_test, y_test; it needs x_train, y_train"):
        load(save(tmp_path, **data))


def test_missing_file(tmp_path):
    with pytest.raises(MaxlError, match=r"nope\.npz does not exist"):
        load(tmp_path / "nope.npz")


def test_not_a_zip(tmp_path):
    path = tmp_path / "data.npz"
    path.write_bytes(b"hello, I am not a zip")
    with pytest.raises(MaxlError, match=r"not an \.npz"):
        load(path)
    np.save(tmp_path / "array.npy", np.zeros(3))
    with pytest.raises(MaxlError, match=r"not an \.npz"):
        load(tmp_path / "array.npy")


def test_pickled_arrays_rejected(tmp_path):
    data = arrays()
    data["y_train"] = np.array([0, 1, 2, 0, 1, "x"], dtype=object)
    with pytest.raises(MaxlError, match=r"could not be read as \.npz"):
        load(save(tmp_path, **data))


def test_relative_path_found_in_data_dir(tmp_path, monkeypatch):
    save(tmp_path, **arrays())
    monkeypatch.chdir(tmp_path.parent)
    ds = load_dataset("npz:data.npz", data_dir=tmp_path)
    assert len(ds.x_train) == 6


def test_two_dimensional_arrays_are_float_feature_vectors(tmp_path):
    data = arrays(shape=(5,))
    data["x_train"] = data["x_train"].astype(np.float64) * 0.5
    ds = load(save(tmp_path, **data))
    assert ds.is_features and ds.x_train.dtype == torch.float32 and ds.x_train.shape == (6, 5)
    assert torch.equal(ds.x_train, torch.tensor(data["x_train"], dtype=torch.float32))
    assert torch.equal(ds.x_test, torch.tensor(data["x_test"], dtype=torch.float32))


def test_features_are_standardised_per_feature():
    x = torch.tensor([[1.0, 10.0], [3.0, 10.0], [5.0, 10.0]])
    mean, std = channel_stats(x)
    assert mean.tolist() == [3.0, 10.0]
    assert std[0].item() == pytest.approx((8 / 3) ** 0.5) and std[1].item() == pytest.approx(1e-6)
    got = to_float(x, mean, std)
    assert got[:, 1].abs().max() == 0
    assert got[:, 0].tolist() == pytest.approx((torch.tensor([-2.0, 0.0, 2.0]) / std[0]).tolist())
