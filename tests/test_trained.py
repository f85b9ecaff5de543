"""The trained model back: maxl.load(RUN_DIR), result.model and `maxl predict` reproduce the
test accuracy that the run itself recorded, from inputs given as they were given to training."""

import csv
import json

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

import maxl
from maxl.assembly.datasets import load_dataset
from maxl.cli import main


def recorded(out):
    return json.loads((out / "results.json").read_text())


def test_an_image_run_loads_and_predicts_its_recorded_accuracy(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--dataset", "digits", "--primary-level", "2", "--method", "maxl"]
    assert (
        main([*args, "--epochs", "2", "--analysis-size", "0", "--no-progress", "--out", str(out)])
        == 0
    )
    results = recorded(out)
    digits = load_dataset("digits", None)
    labels = digits.labels_test["2"]
    model = maxl.load(out)
    accuracy = (model.predict(digits.x_test) == labels).double().mean().item()
    assert accuracy == results["test_accuracy"]
    probabilities = model.predict_proba(digits.x_test)
    assert probabilities.shape == (len(labels), 2)
    assert torch.allclose(probabilities.sum(1), torch.ones(len(labels)))
    assert main(["predict", str(out), "--dataset", "digits", "--out", str(tmp_path / "p.csv")]) == 0
    printed = capsys.readouterr().out
    assert f"accuracy {100 * results['test_accuracy']:.2f}%" in printed
    rows = list(csv.DictReader((tmp_path / "p.csv").open()))
    assert len(rows) == len(labels)
    assert [int(r["label"]) for r in rows] == labels.tolist()
    assert np.mean([r["prediction"] == r["label"] for r in rows]) == pytest.approx(
        results["test_accuracy"], abs=1e-12
    )


def test_a_feature_vector_fit_predicts_from_raw_features(tmp_path):
    x, y = load_digits(return_X_y=True)  # raw 0..16 pixel counts as 64 features
    x = torch.tensor(x * 3.0 + 7.0, dtype=torch.float32)  # far from standardised
    y = torch.tensor(y % 2)
    result = maxl.fit(lambda: nn.Sequential(nn.Linear(64, 32), nn.ReLU()),
                      train=(x[:1200], y[:1200]), test=(x[1200:], y[1200:]), psi=2,
                      method="random", epochs=5, lr=0.1, momentum=0.9, analysis_size=0,
                      out=tmp_path / "f")  # fmt: skip
    predicted = result.model.predict(x[1200:])
    assert (predicted == y[1200:]).double().mean().item() == result.test_accuracy
    assert result.test_accuracy > 0.8  # the raw features were converted, not fed as they are
    again = maxl.load(tmp_path / "f", backbone=lambda: nn.Sequential(nn.Linear(64, 32), nn.ReLU()))
    assert torch.equal(again.predict(x[1200:].numpy()), predicted)


class Tiny(nn.Module):
    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, width, 3, padding=1)
        self.norm = nn.BatchNorm2d(width)

    def forward(self, x):
        return torch.relu(self.norm(self.conv(x))).mean(dim=(2, 3))


def test_a_fit_with_the_users_backbone_on_float_images(tmp_path):
    x, y = load_digits(return_X_y=True)
    images = torch.tensor(x.reshape(-1, 1, 8, 8) / 16.0, dtype=torch.float32)  # floats in 0..1
    y = torch.tensor(y // 5)
    train, test = (images[:1000], y[:1000]), (images[1000:], y[1000:])
    result = maxl.fit(Tiny(), train=train, test=test, psi=2, method="single", epochs=2,
                      analysis_size=0, out=tmp_path / "u")  # fmt: skip
    assert (result.model.predict(images[1000:]) == y[1000:]).double().mean().item() == (
        result.test_accuracy
    )
    loaded = maxl.load(tmp_path / "u", backbone=Tiny())
    assert torch.equal(loaded.predict(images[1000:]), result.model.predict(images[1000:]))
    with pytest.raises(maxl.MaxlError, match="your own backbone Tiny; pass it again"):
        maxl.load(tmp_path / "u")
    with pytest.raises(maxl.MaxlError, match="does not fit the weights"):
        maxl.load(tmp_path / "u", backbone=Tiny(width=4))
    with pytest.raises(maxl.MaxlError, match="this model was trained on"):
        loaded.predict(torch.zeros(3, 1, 9, 9))


def test_a_folder_without_a_model_is_one_clear_error(tmp_path):
    with pytest.raises(maxl.MaxlError, match=r"holds no checkpoint\.pt"):
        maxl.load(tmp_path)
    torch.save({"format": 1, "net": {}}, tmp_path / "checkpoint.pt")
    with pytest.raises(maxl.MaxlError, match="before runs saved their input conversion"):
        maxl.load(tmp_path)


def test_normalised_float_images_train_and_predict_as_given(tmp_path):
    """Images as most PyTorch pipelines hand them over, (x - 0.5) / 0.3, are kept as floats:
    the run learns (far above chance) and the model predicts from the same floats."""
    x, y = load_digits(return_X_y=True)
    images = torch.tensor((x.reshape(-1, 1, 8, 8) / 16.0 - 0.5) / 0.3, dtype=torch.float32)
    y = torch.tensor(y % 2)
    train, test = (images[:1200], y[:1200]), (images[1200:], y[1200:])
    result = maxl.fit(Tiny, train=train, test=test, psi=2, method="random", epochs=6,
                      lr=0.1, momentum=0.9, analysis_size=0, progress=False,
                      out=tmp_path / "n")  # fmt: skip
    # the same images as floats in 0..1 take the uint8 path: digits' 17 grey levels survive
    # it, so the network sees the same standardised inputs and learns the same (not chance)
    unit = images * 0.3 + 0.5
    as_bytes = maxl.fit(Tiny, train=(unit[:1200], y[:1200]), test=(unit[1200:], y[1200:]),
                        psi=2, method="random", epochs=6, lr=0.1, momentum=0.9,
                        analysis_size=0, progress=False, out=tmp_path / "u")  # fmt: skip
    assert result.test_accuracy > 0.65
    assert abs(result.test_accuracy - as_bytes.test_accuracy) < 0.02
    predicted = result.model.predict(images[1200:])
    assert (predicted == y[1200:]).double().mean().item() == result.test_accuracy
    with pytest.raises(maxl.MaxlError, match="uint8 but the model was trained on float images"):
        result.model.predict((images[1200:] * 0).to(torch.uint8))


def test_predict_converts_floats_by_the_factor_training_used(tmp_path):
    """Trained on whole-number floats 0..16 (kept unscaled as uint8), a batch whose values
    happen to lie in 0..1 is not multiplied by 255: it is converted as training was."""
    x, y = load_digits(return_X_y=True)
    images = torch.tensor(x.reshape(-1, 1, 8, 8), dtype=torch.float32)  # whole numbers 0..16
    y = torch.tensor(y % 2)
    result = maxl.fit(Tiny, train=(images[:300], y[:300]), test=(images[300:400], y[300:400]),
                      psi=2, method="single", epochs=1, analysis_size=0, progress=False,
                      out=tmp_path / "w")  # fmt: skip
    dark = (images[400:420] > 8).float()  # values 0 and 1 only
    assert torch.equal(result.model.inputs(dark), dark.to(torch.uint8))  # not times 255
    assert torch.equal(result.model.inputs(images[:5]), images[:5].to(torch.uint8))
    with pytest.raises(maxl.MaxlError, match=r"trained on whole numbers in 0\.\.255"):
        result.model.predict(images[:5] + 0.5)
    unit = maxl.fit(Tiny, train=(images[:300] / 16, y[:300]), test=(images[300:400] / 16,
                    y[300:400]), psi=2, method="single", epochs=1, analysis_size=0,
                    progress=False, out=tmp_path / "unit")  # fmt: skip
    assert torch.equal(unit.model.inputs(dark), (dark * 255).to(torch.uint8))  # factor 255
    with pytest.raises(maxl.MaxlError, match=r"trained on floats in 0\.\.1"):
        unit.model.predict(images[:5] * 10)  # 0..160: not the training's 0..1 floats


def test_loading_twice_with_one_backbone_object_gives_two_models(tmp_path):
    x, y = load_digits(return_X_y=True)
    images = torch.tensor(x.reshape(-1, 1, 8, 8) / 16.0, dtype=torch.float32)
    y = torch.tensor(y % 2)
    maxl.fit(Tiny, train=(images[:200], y[:200]), test=(images[200:300], y[200:300]),
             val=(images[300:400], y[300:400]), psi=2, method="single", epochs=3,
             analysis_size=0, progress=False, out=tmp_path / "r")  # fmt: skip
    shared = Tiny()
    last = maxl.load(tmp_path / "r", backbone=shared)
    best = maxl.load(tmp_path / "r", backbone=shared, which="best")
    assert last.net.backbone is not best.net.backbone is not shared
