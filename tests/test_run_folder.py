import json

import pytest

from maxl import MaxlError
from maxl.run_folder import prepare_out_dir, write_json_atomic, write_jsonl_atomic


def test_atomic_json_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "results.json"
    target.write_text('{"old": true}')
    write_json_atomic(target, {"accuracy": 0.5})
    assert json.loads(target.read_text()) == {"accuracy": 0.5}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_failed_json_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "results.json"
    target.write_text('{"old": true}')
    with pytest.raises(TypeError):
        write_json_atomic(target, {"not json": object()})
    assert json.loads(target.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_jsonl_holds_one_line_per_record_and_replaces_the_file(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"epoch": 9}\n')
    write_jsonl_atomic(path, [{"epoch": 1}, {"epoch": 2}])
    assert [json.loads(line) for line in path.read_text().splitlines()] == [
        {"epoch": 1},
        {"epoch": 2},
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.jsonl"]


def test_output_folder_under_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(MaxlError, match="choose another --out"):
        prepare_out_dir(tmp_path / "file" / "run")


def test_results_carry_the_format_version_and_read_back(tmp_path):
    from maxl.run_folder import FORMAT_VERSION, read_results, write_results

    assert read_results(tmp_path) is None  # not finished yet
    path = write_results(tmp_path, {"test_accuracy": 0.75})
    assert json.loads(path.read_text()) == {"format": FORMAT_VERSION, "test_accuracy": 0.75}
    assert read_results(tmp_path) == {"format": FORMAT_VERSION, "test_accuracy": 0.75}


def test_results_of_a_newer_format_are_refused_by_name(tmp_path):
    from maxl.run_folder import FORMAT_VERSION, read_results, results_path

    results_path(tmp_path).write_text(json.dumps({"format": FORMAT_VERSION + 1}))
    with pytest.raises(MaxlError, match="upgrade maxl"):
        read_results(tmp_path)


def test_metrics_read_back_and_a_bad_line_is_named(tmp_path):
    from maxl.run_folder import metrics_path, read_metrics, write_metrics

    write_metrics(tmp_path, [{"epoch": 1, "loss": 0.5}, {"epoch": 2}])
    assert read_metrics(tmp_path) == [{"epoch": 1, "loss": 0.5}, {"epoch": 2}]
    metrics_path(tmp_path).write_text('{"epoch": 1}\n{"epoch": "two"}\n')
    with pytest.raises(MaxlError, match="line 2"):
        read_metrics(tmp_path)


def test_aux_labels_round_trip_and_mismatched_lengths_are_refused(tmp_path):
    import numpy as np

    from maxl.run_folder import read_aux_labels, write_aux_labels

    arrays = {
        "rows": np.array([4, 0, 2]),
        "primary": np.array([1, 0, 1]),
        "aux": np.array([3, 0, 2]),
        "confidence": np.array([0.5, 0.25, 1.0], dtype=np.float32),
        "psi": np.array([2, 2]),
    }
    write_aux_labels(tmp_path, **arrays)
    labels = read_aux_labels(tmp_path)
    assert labels.rows.tolist() == [4, 0, 2] and labels.aux.tolist() == [3, 0, 2]
    assert labels.confidence.tolist() == [0.5, 0.25, 1.0] and labels.psi == [2, 2]
    write_aux_labels(tmp_path, **{**arrays, "aux": np.array([1, 2])})
    with pytest.raises(MaxlError, match="differ in length"):
        read_aux_labels(tmp_path)


def test_run_folders_are_the_sub_folders_with_metrics(tmp_path):
    from maxl.run_folder import read_run, run_folders, write_metrics, write_results

    for name in ("maxl-seed1", "single-seed0"):
        (tmp_path / name).mkdir()
        write_metrics(tmp_path / name, [{"epoch": 1, "test_accuracy": 0.5}])
    (tmp_path / "tune").mkdir()
    assert [p.name for p in run_folders(tmp_path)] == ["maxl-seed1", "single-seed0"]
    run = read_run(tmp_path / "maxl-seed1")
    assert (run.method, run.finished, run.final_accuracy) == ("maxl", False, 0.5)
    write_results(tmp_path / "maxl-seed1", {"method": "maxl", "test_accuracy": 0.625})
    assert read_run(tmp_path / "maxl-seed1").final_accuracy == 0.625


def test_a_run_s_row_is_its_compare_folder_name_and_its_method_is_what_trained(tmp_path):
    from maxl.run_folder import read_run, write_metrics, write_results

    for name in ("maxl-fast-seed3", "my-run"):
        (tmp_path / name).mkdir()
        write_metrics(tmp_path / name, [{"epoch": 1}])
        write_results(tmp_path / name, {"method": "maxl", "test_accuracy": 0.5})
    variant, plain = read_run(tmp_path / "maxl-fast-seed3"), read_run(tmp_path / "my-run")
    assert (variant.row, variant.method) == ("maxl-fast", "maxl")
    assert (plain.row, plain.method) == ("maxl", "maxl")
