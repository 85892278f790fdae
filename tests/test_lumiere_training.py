"""Training stages at tiny size: resume is exact, inflation starts from the parent, the generators run end to end."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lumiere_eval.models.base import create_generator
from lumiere_eval.models.lumiere.checkpoint import load_model
from lumiere_eval.models.lumiere.stunet import STUNet
from lumiere_eval.training.lumiere_stages import StageConfig, TrainConfigError, train_stage

TINY_MODEL = {"channels": [8, 16], "attention_levels": [1], "text_dim": 16, "text_depth": 1, "heads": 2}
TRAIN = {"batch": 2, "save_every_s": 1000, "lr": 1e-3}


def write_configs(folder):
    """Tiny versions of the four shipped stage configs: base 8x8 x 4 frames, SSR to 16x16."""
    stages = {
        "t2i": {"model": TINY_MODEL, "data": {"height": 8, "width": 8, "num_frames": 4}},
        "stunet": {"parent": "t2i", "inflate": {"heads": 2},
                   "data": {"height": 8, "width": 8, "num_frames": 4, "clip_frames": 4}},
        "ssr": {"model": {**TINY_MODEL, "cond_channels": 3},
                "data": {"height": 16, "width": 16, "num_frames": 4, "low_res": [8, 8]}},
        "ssr-stunet": {"parent": "ssr", "inflate": {"temporal_resampling": False, "heads": 2},
                       "data": {"height": 16, "width": 16, "num_frames": 4, "clip_frames": 2, "low_res": [8, 8]}},
    }
    paths = {}
    for name, body in stages.items():
        paths[name] = folder / f"{name}.json"
        paths[name].write_text(json.dumps({"stage": name, "train": TRAIN, **body}))
    return paths


def test_resumed_training_equals_an_uninterrupted_run(tmp_path):
    config = StageConfig.load(write_configs(tmp_path)["t2i"])
    straight = load_model(train_stage(config, tmp_path / "a", steps=2, progress=False))
    train_stage(config, tmp_path / "b", steps=1, progress=False)
    resumed = load_model(train_stage(config, tmp_path / "b", steps=2, progress=False))
    for (name, p), q in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(p, q), name
    state = torch.load(tmp_path / "b" / "t2i" / "state.pt", weights_only=True)
    assert state["step"] == 2 and len(state["losses"]) == 2


def test_bad_configs_name_the_field(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"model": {}, "inflate": {}}))
    with pytest.raises(TrainConfigError, match="exactly one"):
        StageConfig.load(bad)
    bad.write_text(json.dumps({"model": {}, "train": {"stepz": 3}}))
    with pytest.raises(TrainConfigError, match="stepz"):
        StageConfig.load(bad)
    bad.write_text("{")
    with pytest.raises(TrainConfigError, match="bad.json"):
        StageConfig.load(bad)


def test_stages_chain_and_generators_run_end_to_end_depending_on_seed_only(tmp_path):
    paths = write_configs(tmp_path)
    runs = tmp_path / "runs"
    with pytest.raises(TrainConfigError, match="train stage 't2i' first"):
        train_stage(StageConfig.load(paths["stunet"]), runs, steps=1, progress=False)
    models = {stage: load_model(train_stage(StageConfig.load(paths[stage]), runs, steps=1, progress=False))
              for stage in ("t2i", "stunet", "ssr", "ssr-stunet")}
    assert isinstance(models["stunet"], STUNet)   # the inflation starts from the exported T2I weights
    for name, p in models["t2i"].state_dict().items():
        assert torch.equal(p, models["stunet"].t2i.state_dict()[name]), name
    ship = tmp_path / "ship"
    ship.mkdir()
    for stage in ("t2i", "stunet", "ssr", "ssr-stunet"):
        for ext in (".pt", ".json"):
            (ship / f"{stage}{ext}").write_bytes((runs / stage / f"model{ext}").read_bytes())
    options = dict(checkpoint_dir=str(ship), steps=2, ssr_steps=1, window=2, overlap=1)
    lumiere = create_generator("lumiere", **options, batch_size=2)
    videos = lumiere.generate(["a red square moving left", "a blue circle"], [0, 1], num_frames=3, fps=8,
                              height=16, width=20)
    assert [v.frames.shape for v in videos] == [(3, 16, 20, 3)] * 2 and videos[0].frames.dtype == np.uint8
    single = create_generator("lumiere", **options, batch_size=1).generate(["a blue circle"], [1], 3, 8, 16, 20)
    assert np.abs(single[0].frames.astype(int) - videos[1].frames).max() <= 1
    assert lumiere.describe()["base"]["steps"] == 1
    frames = create_generator("per-frame-t2i", **options).generate(["a red square"], [0], 3, 8, 16, 16)
    assert frames[0].frames.shape == (3, 16, 16, 3)


def test_shipped_checkpoints_match_their_checksums_configs_and_card():
    from lumiere_eval.assets import asset
    from lumiere_eval.models.lumiere.checkpoint import read_meta

    from lumiere_eval.training.lumiere_recipe import STAGES

    folder = asset("models", "lumiere-tiny")
    total = 0
    for stage in STAGES:
        path = folder / f"{stage}.pt"
        meta = read_meta(str(path))
        assert meta["stage"] == stage and meta["steps"] > 0
        shipped_config = json.loads((folder / "configs" / f"{stage}.json").read_text())
        assert meta["data"] == shipped_config["data"]
        model = load_model(str(path))          # verifies the SHA-256 and loads with weights_only=True
        inflated = "inflate" in shipped_config or shipped_config.get("parent") == "stunet"   # else a U-Net
        assert isinstance(model, STUNet) == inflated
        assert f"| {meta['steps']} |" in (folder / "README.md").read_text()
        total += path.stat().st_size
    assert total < 25 * 2 ** 20
