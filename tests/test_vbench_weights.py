"""The VBench tier's weight entries: RAFT's archive download (a zip holding the checkpoint, as VBench fetches it)
and the checkpoint check, on files built here (never the real weights)."""
from __future__ import annotations

import zipfile

import pytest
import torch

from lumiere_eval.extractors import weights
from lumiere_eval.extractors.vbench.raft import build_raft


def _original_layout(model: torch.nn.Module) -> dict:
    """torchvision RAFT-large weights under princeton-vl's names, 'module.'-prefixed, norm3 duplicates included
    (raft-things.pth's layout: 179 keys)."""
    import re

    back = {}
    for key, value in model.state_dict().items():
        for pattern, replacement in ((r"^feature_encoder\.", "fnet."), (r"^context_encoder\.", "cnet."),
                                     (r"\.convnormrelu\.0\.", ".conv1."), (r"\.convnormrelu\.1\.", ".norm1."),
                                     (r"^(fnet|cnet)\.conv\.", r"\1.conv2."),
                                     (r"\.convnormrelu(\d)\.0\.", r".conv\1."), (r"\.convnormrelu(\d)\.1\.", r".norm\1."),
                                     (r"motion_encoder\.convcorr(\d)\.0\.", r"encoder.convc\1."),
                                     (r"motion_encoder\.convflow(\d)\.0\.", r"encoder.convf\1."),
                                     (r"motion_encoder\.conv\.0\.", "encoder.conv."),
                                     (r"recurrent_block\.convgru(\d)\.conv([zrq])\.", r"gru.conv\2\1."),
                                     (r"^mask_predictor\.convrelu\.0\.", "update_block.mask.0."),
                                     (r"^mask_predictor\.conv\.", "update_block.mask.2.")):
            key = re.sub(pattern, replacement, key)
        back[f"module.{key}"] = value
        if key.startswith("cnet.") and ".downsample.1." in key:  # the BatchNorm encoder lists norm3 twice
            back[f"module.{key.replace('downsample.1', 'norm3')}"] = value
    return back


def test_raft_checkpoint_from_a_zip_archive(tmp_path, monkeypatch):
    monkeypatch.setenv("LUMIERE_EVAL_HOME", str(tmp_path / "home"))
    torch.manual_seed(0)
    state = _original_layout(build_raft())
    assert len(state) == 179  # raft-things.pth's key count
    torch.save(state, tmp_path / "raft-things.pth")
    archive = tmp_path / "models.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(tmp_path / "raft-things.pth", "models/raft-things.pth")
    path = weights.fetch("raft_things", url=archive.as_uri(), progress=False)
    assert path == tmp_path / "home" / "weights" / "raft-things.pth"
    assert path.read_bytes() == (tmp_path / "raft-things.pth").read_bytes()
    assert not list(path.parent.glob("*.zip")) and not list(path.parent.glob("*.extracting"))
    assert not weights.verify("raft_things").verified  # no published checksum: format-checked only

    empty = tmp_path / "other.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("models/raft-small.pth", b"x")
    path.unlink()
    with pytest.raises(weights.WeightsError, match="not a zip holding models/raft-things.pth"):
        weights.fetch("raft_things", url=empty.as_uri(), progress=False)


def test_raft_checkpoint_of_another_layout_is_one_line(tmp_path):
    from lumiere_eval.extractors.vbench.raft import load_raft

    torch.save({"module.fnet.conv1.weight": torch.zeros(64, 3, 7, 7)}, tmp_path / "raft-small.pth")
    with pytest.raises(weights.WeightsError, match="raft-small.pth: not a RAFT-large checkpoint"):
        load_raft(tmp_path / "raft-small.pth")


def test_missing_raft_names_the_archive_member(tmp_path, monkeypatch):
    monkeypatch.setenv("LUMIERE_EVAL_HOME", str(tmp_path))
    with pytest.raises(weights.WeightsError, match=r"a zip: take models/raft-things.pth out of it.*--raft PATH"):
        weights.resolve("raft_things", fetch_missing=False)
