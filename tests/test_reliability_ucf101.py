"""A bad UCF101 tree or split file (issue 16): each case built here, each answered by name, none aborting a run."""
from __future__ import annotations

import json
import os
import shutil

import pytest

from conftest import moving_pattern
from lumiere_eval.cli import main
from lumiere_eval.datasets import ucf101 as ucf101_data
from lumiere_eval.video import write_video
from test_runner_ucf101 import args_for, build_tree, weights  # noqa: F401 - weights is a fixture


def _splits(tmp_path, train_lines: list[str]):
    splits = tmp_path / "ucfTrainTestlist"
    splits.mkdir()
    (splits / "classInd.txt").write_bytes(b"1 ApplyEyeMakeup\r\n2 Basketball\r\n")
    (splits / "trainlist01.txt").write_bytes("".join(f"{line}\r\n" for line in train_lines).encode())
    return splits


def test_repeated_split_line_is_counted_once_with_a_warning(tmp_path):
    splits = _splits(tmp_path, ["Basketball/v_Basketball_g01_c01.avi 2",
                                "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi 1",
                                "Basketball/v_Basketball_g01_c01.avi 2"])
    with pytest.warns(ucf101_data.SplitFileWarning, match=r"trainlist01.txt: 1 repeated line\(s\) counted once: line 3 "
                                                    r"repeats line 1 \(Basketball/v_Basketball_g01_c01.avi\)"):
        entries = ucf101_data.read_split(splits, "train", 1)
    assert [e.relpath for e in entries] == ["Basketball/v_Basketball_g01_c01.avi",
                                            "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi"]


def test_non_utf8_split_file_is_named(tmp_path):
    splits = _splits(tmp_path, ["Basketball/v_Basketball_g01_c01.avi 2"])
    (splits / "trainlist01.txt").write_bytes(b"Basketball/v_Basketball_g01_c01.avi 2\r\nBasketball/v_caf\xe9.avi 2\r\n")
    with pytest.raises(ucf101_data.ProtocolDataError, match=r"trainlist01.txt, line 2: not UTF-8 text \(byte 0xe9"):
        ucf101_data.read_split(splits, "train", 1)


def test_symlink_loop_and_dangling_split_files_are_named(tmp_path):
    splits = _splits(tmp_path, ["Basketball/v_Basketball_g01_c01.avi 2"])
    (splits / "trainlist01.txt").unlink()
    os.symlink(splits / "trainlist01.txt", splits / "trainlist01.txt")  # a link to itself
    with pytest.raises(ucf101_data.ProtocolDataError, match="trainlist01.txt: split file is a symbolic link loop"):
        ucf101_data.read_split(splits, "train", 1)
    (splits / "classInd.txt").unlink()
    os.symlink(tmp_path / "gone.txt", splits / "classInd.txt")
    with pytest.raises(ucf101_data.ProtocolDataError, match=r"classInd.txt: split file is a dangling symbolic link "
                                                      r"\(to .*gone.txt\)"):
        ucf101_data.read_class_index(splits)


def test_missing_misplaced_and_dangling_videos_are_named(tmp_path):
    root = tmp_path / "UCF-101"
    for name in ("ApplyEyeMakeup", "Basketball"):
        (root / name).mkdir(parents=True)
    (root / "ApplyEyeMakeup" / "v_Basketball_g02_c01.avi").write_bytes(b"x")  # in the wrong class folder
    os.symlink(tmp_path / "nowhere.avi", root / "Basketball" / "v_Basketball_g03_c01.avi")
    os.symlink("loop", root / "Basketball" / "loop")
    os.symlink("loop", root / "Basketball" / "v_Basketball_g04_c01.avi")
    index = ucf101_data.VideoIndex(tmp_path)
    cases = {"v_Basketball_g01_c01.avi": r"listed in the split file but missing$",
             "v_Basketball_g02_c01.avi": r"missing \(found in the wrong class folder ApplyEyeMakeup/\)",
             "v_Basketball_g03_c01.avi": r"listed in the split file but is a dangling symbolic link \(to .*nowhere",
             "v_Basketball_g04_c01.avi": r"listed in the split file but is a symbolic link loop"}
    for file, reason in cases.items():
        with pytest.raises(ucf101_data.MissingVideoError, match=reason) as err:
            index.resolve(ucf101_data.SplitEntry(f"Basketball/{file}", "Basketball", 1))
        assert err.value.path.endswith(file)


def test_data_root_symlink_loop_is_named(tmp_path):
    os.symlink(tmp_path / "root", tmp_path / "root")
    with pytest.raises(ucf101_data.ProtocolDataError, match="root: data root is a symbolic link loop"):
        ucf101_data.VideoIndex(tmp_path / "root")


def _break_tree(root, ucf101_shared):
    """Real-layout tree with six bad listed videos; returns what each should be skipped for."""
    data, train = root / "UCF-101", root / "ucfTrainTestlist" / "trainlist01.txt"
    lines = train.read_bytes().decode().splitlines()
    basketball = data / "Basketball"
    (basketball / "v_Basketball_g08_c01.avi").unlink()  # listed, missing
    shutil.move(basketball / "v_Basketball_g09_c01.avi", data / "ApplyEyeMakeup")  # wrong class folder
    os.symlink(root / "gone.avi", basketball / "v_Basketball_g20_c01.avi")  # dangling link
    write_video(basketball / "v_Basketball_g21_c01.avi", moving_pattern(8, 48, 64), fps=25)  # too short
    data_cut = (ucf101_shared / "v_Basketball_g01_c01.avi").read_bytes()
    (basketball / "v_Basketball_g22_c01.avi").write_bytes(data_cut[: len(data_cut) // 2])  # truncated real AVI
    extra = [f"Basketball/v_Basketball_g{g}_c01.avi 2" for g in (20, 21, 22)]
    train.write_bytes("".join(f"{line}\r\n" for line in lines + extra + [lines[0]]).encode())  # + a repeated line
    return {"v_Basketball_g08_c01.avi": "listed in the split file but missing",
            "v_Basketball_g09_c01.avi": "found in the wrong class folder ApplyEyeMakeup/",
            "v_Basketball_g20_c01.avi": "dangling symbolic link",
            "v_Basketball_g21_c01.avi": "has 8 frames; clip random16s1seed0 needs at least 16",
            "v_Basketball_g22_c01.avi": "declares 141 frames, only 73 can be decoded"}


def test_bad_real_videos_are_skipped_listed_and_counted(tmp_path, weights, ucf101_shared, capsys):  # noqa: F811
    root = build_tree(tmp_path / "data")
    expected = _break_tree(root, ucf101_shared)
    out = tmp_path / "run"
    with pytest.warns(ucf101_data.SplitFileWarning, match="repeated line") as caught:
        assert main(args_for(root, out, weights, "--metrics", "fvd", "--max-skipped-fraction", "0.1")) == 0
    assert sum(w.category is ucf101_data.SplitFileWarning for w in caught) == 1  # said once per run
    skipped = {os.path.basename(s["path"]): s["reason"] for s in json.loads((out / "skipped.json").read_text())}
    assert set(skipped) == set(expected)
    for name, reason in expected.items():
        assert reason in skipped[name], (name, skipped[name])
    results = json.loads((out / "results.json").read_text())
    # 12 listed train videos + 3 added = 15 real (the repeated line counted once), 5 unusable; 9 generated
    assert results["real_set"]["clips"] == 15 - 3 and results["metrics"]["fvd"]["n_real"] == 15 - 5
    fraction = results["skipped_fraction"]
    assert (fraction["count"], fraction["of"], fraction["exceeded"]) == (5, 24, True)
    assert "WARNING: 5 of 24 videos (20.8%) were skipped" in (out / "summary.md").read_text()
    assert "WARNING: 5 of 24 videos" in capsys.readouterr().err

    assert main(args_for(root, tmp_path / "strict", weights, "--metrics", "fvd", "--strict")) == 1
    err = capsys.readouterr().err
    assert "error: 3 listed video(s) missing, first:" in err and "v_Basketball_g08_c01.avi" in err


def test_a_class_tree_without_enough_real_clips_is_refused_before_generation(tmp_path, weights, capsys):
    """Issue 26: every class folder present but (nearly) empty passed `--dry-run` ("real clips: 0"); now the
    pre-flight refuses it, naming how many listed clips are missing and the first paths; one missing is a skip."""
    root = build_tree(tmp_path / "data")
    listed = sorted((root / "UCF-101").glob("*/*.avi"))
    train = [p for p in listed if "_g01_" not in p.name]  # the train list (g01 is the test clip)
    for clip in train[1:]:
        clip.unlink()
    out = tmp_path / "run"
    assert main(args_for(root, out, weights, "--dry-run")) == 1
    err = capsys.readouterr().err
    assert f"only 1 of the {len(train)} real clips listed in trainlist01 exist ({len(train) - 1} missing; " \
           "the FVD protocol needs 9); first missing: " in err
    assert str(train[1]) in err
    assert main(args_for(root, out, weights)) == 1 and not (out / "samples").exists()  # nothing generated
    # a handful missing stays a skip: the plan keeps the rest and lists the missing clip
    root2 = build_tree(tmp_path / "data2")
    next(p for p in sorted((root2 / "UCF-101").glob("*/*.avi")) if "_g01_" not in p.name).unlink()
    assert main(args_for(root2, tmp_path / "run2", weights, "--dry-run")) == 0
