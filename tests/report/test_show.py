"""`maxl show` on run and comparison folders the tests write in the training's formats, its
errors through the command line, and once end to end after a real tiny training run."""

import json
import re
import statistics

import matplotlib.image
import numpy as np
import pytest

from maxl.assembly.datasets import load_dataset
from maxl.cli import main
from maxl.errors import MaxlError
from maxl.report import show

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PSI = [1, 3, 2, 3, 1, 1, 1, 1, 1, 2]  # digits, primary level "10": K = 16


def assert_png(path):
    assert path.read_bytes()[:8] == PNG_SIGNATURE, path
    pixels = matplotlib.image.imread(path)
    assert pixels.shape[0] > 0 and pixels.shape[1] > 0


def write_run(folder, method="maxl", seed=0, accuracy=0.8, epochs=3, analysis=True, done=True):
    """A run folder as maxl train writes it (metrics.jsonl, results.json, aux_labels.npz)."""
    folder.mkdir(parents=True)
    k = sum(PSI)
    lines = []
    for e in range(1, epochs + 1):
        aux_loss = 0.0 if method == "single" else 1.0 / e
        record = {
            "epoch": e,
            "lr": 0.01,
            "train_loss": 2.0 / e + aux_loss,
            "train_primary_loss": 2.0 / e,
            "train_aux_loss": aux_loss,
            "epoch_time_s": 0.5,
        }
        if e % 2 == 1 or e == epochs:
            record.update(test_accuracy=accuracy - 0.01 * (epochs - e), test_loss=1.0 / e)
        if analysis and method != "single":
            usage = np.arange(1, k + 1, dtype=float) + e
            record.update(
                grad_cosine=0.3 - 0.1 * e,
                aux_entropy=0.9 / e,
                aux_marginal_entropy=2.0 + 0.1 * e,
                aux_usage=list(usage / usage.sum()),
                nmi_human=0.2 * seed + 0.1 * e,
                analysis_time_s=0.1,
            )
        lines.append(json.dumps(record))
    (folder / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    if not done:
        return
    config = {
        "dataset": "digits",
        "data_dir": None,
        "primary_level": None,
        "aux_level": None,
        "train_size": 200,
        "seed": seed,
        "method": method,
        "epochs": epochs,
    }
    results = {
        "method": method,
        "dataset": "digits",
        "seed": seed,
        "epochs": epochs,
        "test_accuracy": accuracy,
        "psi": PSI,
        "primary_level": "10",
        "config": config,
    }
    (folder / "results.json").write_text(json.dumps(results))
    if method != "single":
        digits = load_dataset("digits", None)
        rows = np.arange(0, 400, 2, dtype=np.int64)
        primary = digits.labels_train["10"].numpy()[rows]
        starts = np.cumsum([0, *PSI])[:-1]
        rng = np.random.default_rng(seed)
        aux = starts[primary] + rng.integers(0, 1 << 16, len(rows)) % np.asarray(PSI)[primary]
        np.savez(
            folder / "aux_labels.npz",
            rows=rows,
            primary=primary,
            aux=aux.astype(np.int64),
            confidence=rng.uniform(0.2, 1, len(rows)).astype(np.float32),
            psi=np.asarray(PSI, dtype=np.int64),
        )


def linked_figures(report):
    return re.findall(r"!\[[^\]]*\]\((figures/[^)]+\.png)\)", report.read_text())


def test_show_on_a_run_writes_every_figure_and_links_them(tmp_path):
    run = tmp_path / "maxl-seed0"
    write_run(run)
    report = show(run, log=lambda _: None)
    assert report == run / "report.md"
    expected = {"curves.png", "gradient_cosine.png", "aux_usage.png"}
    expected |= {f"aux_classes_{c}.png" for c in (1, 3, 2, 9)}  # ψ 3, 3, 2, 2: largest first
    written = {p.name for p in (run / "figures").iterdir()}
    assert written == expected
    for name in written:
        assert_png(run / "figures" / name)
    assert sorted(linked_figures(report)) == sorted(f"figures/{n}" for n in expected)
    text = report.read_text()
    assert "80.00%" in text and "digits" in text and str(PSI) in text
    assert "| grad_cosine | 0.000 |" in text  # the last epoch's: 0.3 - 0.1 * 3
    assert "### Primary class 1\n" in text and "(odd)" not in text  # level 10: digits, not parity
    table = np.load(run / "aux_labels.npz")
    median = np.median(table["confidence"][table["primary"] == 1])
    assert f"auxiliary class: {median:.3f} (uniform: 1/3 = 0.333)" in text  # ψ[1] = 3


def test_classes_choose_the_image_grids(tmp_path, capsys):
    run = tmp_path / "maxl-seed0"
    write_run(run)
    assert main(["show", str(run), "--classes", "0,5"]) == 0
    grids = sorted(p.name for p in (run / "figures").glob("aux_classes_*.png"))
    assert grids == ["aux_classes_0.png", "aux_classes_5.png"]
    assert main(["show", str(run), "--classes", "10"]) == 2
    assert "--classes 10: the run has primary classes 0 to 9" in capsys.readouterr().err


def test_a_run_without_analysis_skips_those_figures_and_says_so(tmp_path):
    run = tmp_path / "single-seed0"
    write_run(run, method="single")
    report = show(run, log=lambda _: None)
    assert [p.name for p in (run / "figures").iterdir()] == ["curves.png"]
    assert linked_figures(report) == ["figures/curves.png"]
    text = report.read_text()
    assert "No gradient cosine recorded" in text and "image grids skipped" in text


def test_a_run_in_progress_is_shown_from_its_metrics_with_a_note(tmp_path):
    run = tmp_path / "run"
    write_run(run, epochs=2, analysis=False, done=False)
    report = show(run, log=lambda _: None)
    text = report.read_text()
    assert "Run in progress" in text and "still in progress" in text
    assert "- epochs: 2\n" in text and "latest evaluation" in text
    assert linked_figures(report) == ["figures/curves.png"]


def test_grids_are_skipped_with_a_note_when_the_dataset_cannot_be_loaded(tmp_path):
    run = tmp_path / "run"
    write_run(run, epochs=1, analysis=False)
    results = json.loads((run / "results.json").read_text())
    results["config"]["dataset"] = f"npz:{tmp_path / 'gone.npz'}"
    (run / "results.json").write_text(json.dumps(results))
    report = show(run, log=lambda _: None)
    assert not list((run / "figures").glob("aux_classes_*.png"))
    assert "Image grids skipped" in report.read_text() and "gone.npz" in report.read_text()


def test_show_on_a_comparison_overlays_methods_and_tables_their_means(tmp_path):
    accuracies = {("single", 0): 0.71, ("single", 1): 0.74, ("maxl", 0): 0.78, ("maxl", 1): 0.83}
    for (method, seed), accuracy in accuracies.items():
        write_run(tmp_path / f"{method}-seed{seed}", method, seed, accuracy)
    (tmp_path / "summary.md").write_text("# Comparison\n")
    report = show(tmp_path, log=lambda _: None)
    assert report == tmp_path / "report.md"
    names = ["accuracy.png", "losses.png", "gradient_cosine.png", "labels.png"]
    for name in names:
        assert_png(tmp_path / "figures" / name)
    assert linked_figures(report) == [f"figures/{n}" for n in names]
    text = report.read_text()
    for method in ("single", "maxl"):
        values = [100 * a for (m, _), a in accuracies.items() if m == method]
        row = next(line for line in text.splitlines() if line.startswith(f"| {method} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        mean, std = (float(v) for v in cells[2].split("±"))
        assert cells[1] == "2"
        assert mean == pytest.approx(statistics.fmean(values), abs=0.006)
        assert std == pytest.approx(statistics.stdev(values), abs=0.006)
    header = next(line for line in text.splitlines() if line.startswith("| method |"))
    column = [c.strip() for c in header.strip("|").split("|")].index("nmi_human")
    maxl_row = next(line for line in text.splitlines() if line.startswith("| maxl |"))
    single_row = next(line for line in text.splitlines() if line.startswith("| single |"))
    assert maxl_row.strip("|").split("|")[column].strip() == "0.400"  # (0.3 + 0.5) / 2
    assert single_row.strip("|").split("|")[column].strip() == "—"
    assert f"maxl show {tmp_path / 'maxl-seed0'}" in text


def test_a_folder_that_is_no_run_gets_one_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(MaxlError, match=r"holds no metrics\.jsonl and no run folders"):
        show(tmp_path / "empty")
    with pytest.raises(MaxlError, match="does not exist"):
        show(tmp_path / "nowhere")


def test_a_malformed_metrics_line_is_named(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"epoch": 1, "train_loss": 1.0}\n{"epoch": 2, "tr\n')
    with pytest.raises(MaxlError, match=r"metrics\.jsonl, line 2"):
        show(run)


def test_cli_show_errors_are_one_line_with_exit_code_2(tmp_path, capsys):
    assert main(["show", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("maxl: error: ") and "maxl compare" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_train_then_show_end_to_end(tmp_path, capsys):
    out = tmp_path / "run"
    argv = [
        "train",
        "--dataset",
        "digits",
        "--method",
        "random",
        "--epochs",
        "2",
        "--train-size",
        "200",
        "--no-progress",
        "--out",
        str(out),
        "--device",
        "cpu",
    ]
    assert main(argv) == 0
    assert main(["show", str(out)]) == 0
    assert str(out / "report.md") in capsys.readouterr().out
    assert_png(out / "figures" / "curves.png")
    if not (out / "aux_labels.npz").is_file():
        pytest.skip("training does not write aux_labels.npz and the analysis keys yet")
    names = {p.name for p in (out / "figures").iterdir()}
    assert {"curves.png", "gradient_cosine.png", "aux_usage.png"} <= names
    grids = [n for n in names if n.startswith("aux_classes_")]
    assert 1 <= len(grids) <= 4
    assert sorted(linked_figures(out / "report.md")) == sorted(f"figures/{n}" for n in names)
