import json

import pytest

from maxl import MaxlError
from maxl.records import prepare_out_dir, write_json_atomic, write_jsonl_atomic


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
