"""Recipes of the synthetic world: disjoint train / val / test identities and anchors (paper S2.1), the
`emoctl data build-synthetic --recipe` command with shards (explicit, or from a Slurm array or torchrun)."""

import json

import pytest

from emoctl.cli import main
from emoctl.data import load_manifest, verify
from emoctl.errors import DataError
from emoctl.synthetic import RECIPES, build_recipe, recipe
from emoctl.synthetic.recipes import KINDS, RECIPE_SPLITS


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_splits_share_no_identity_and_no_anchor_across_both_kinds(name):
    chosen = recipe(name)
    for what, position in (("identities", 0), ("anchors", 1)):
        owner: dict[int, str] = {}
        for kind in KINDS:
            for split in RECIPE_SPLITS:
                for index in chosen.split_ids(kind, split)[position]:
                    assert owner.setdefault(index, split) == split, f"{name}: {what} {index} in {owner[index]} and {split}"
        assert sorted(set(owner.values())) == sorted(RECIPE_SPLITS)
    record = chosen.to_json()
    for kind in KINDS:
        splits = record["kinds"][kind]["splits"]
        train = set(splits["train"]["identities"]) | set(splits["train"]["anchors"])
        held = {i for s in ("val", "test") for part in ("identities", "anchors") for i in splits[s][part]}
        assert train and held and not train & held


def test_the_two_configurations_follow_the_paper():
    for chosen in RECIPES.values():
        app, geo = chosen.appearance.config(), chosen.geometry.config()
        assert (app.fps, app.frame_format) == (5.0, "png") and (geo.fps, geo.frame_format) == (30.0, "mp4")
    for name in ("demo", "benchmark"):
        chosen = recipe(name)
        assert chosen.appearance.splits["train"].identities > chosen.geometry.splits["train"].identities  # many vs fewer
        assert chosen.geometry.frames / 30.0 > chosen.appearance.frames / 5.0  # longer sentences, at 30 fps
        assert chosen.appearance.views >= 3  # several views


def test_overrides_change_the_train_split_and_the_clip_settings_only():
    base = recipe("demo")
    changed = base.with_overrides(("appearance",), identities=5, frames=8, seed=3)
    assert changed.appearance.splits["train"].identities == 5 and changed.appearance.frames == 8 and changed.seed == 3
    assert changed.appearance.splits["test"] == base.appearance.splits["test"] and changed.geometry == base.geometry
    assert base.geometry.splits["train"].identities == 4  # val now starts after the larger train block
    assert changed.split_ids("appearance", "val")[0].start == changed.split_ids("geometry", "val")[0].start == 5
    with pytest.raises(DataError, match=r"recipe overrides \['colour'\]"):
        base.with_overrides(colour=1)
    with pytest.raises(DataError, match="unknown recipe 'huge'; choose one of"):
        recipe("huge")


def test_build_recipe_writes_each_split_as_a_dataset(tmp_path):
    result = build_recipe("tiny", tmp_path, kinds=("geometry",), splits=("test",), progress=False)
    assert result["merged"] == ["geometry/test"] and result["geometry/test"].clips_written == 7
    root = tmp_path / "geometry" / "test"
    assert verify(root).ok and not (tmp_path / "appearance").exists()
    manifest = load_manifest(root)
    expected = recipe("tiny").to_json()["kinds"]["geometry"]["splits"]["test"]
    assert [e["id"] for e in manifest["identities"]] == expected["identities"]
    assert [e["id"] for e in manifest["anchors"]] == expected["anchors"]
    assert manifest["config"]["fps"] == 30.0 and {c["num_frames"] for c in manifest["clips"]} == {6}
    assert json.loads((tmp_path / "recipe.json").read_text())["name"] == "tiny"
    with pytest.raises(DataError, match="kinds must be a non-empty list"):
        build_recipe("tiny", tmp_path, kinds=("texture",))


def test_cli_builds_a_recipe_in_shards_and_the_last_shard_merges(tmp_path, monkeypatch, capsys):
    out = tmp_path / "bench"
    args = ["data", "build-synthetic", "--recipe", "tiny", "--kind", "appearance", "--split", "train", "--out", str(out),
            "--no-progress"]
    assert main([*args, "--shard", "0/2"]) == 0
    assert "waiting for the other shards of: appearance/train" in capsys.readouterr().out
    assert not (out / "appearance/train/manifest.json").exists()
    for name in ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main([*args, "--shard", "auto"]) == 0
    assert "merged: appearance/train" in capsys.readouterr().out
    report = verify(out / "appearance/train")
    assert report.ok and report.counts["clips"] == 14
    # a different recipe (here: more training identities) cannot go into the same folder
    assert main([*args, "--shard", "0/1", "--identities", "3"]) == 2
    assert "holds a build of a different recipe" in capsys.readouterr().err
    monkeypatch.delenv("RANK")
    assert main([*args, "--shard", "auto"]) == 2
    assert "found neither SLURM_ARRAY_TASK_ID" in capsys.readouterr().err


def test_cli_without_a_recipe_keeps_the_explicit_flags(tmp_path, capsys):
    out = tmp_path / "plain"
    assert main(["data", "build-synthetic", str(out), "--identities", "1", "--anchors", "1", "--frames", "2",
                 "--image-size", "32", "--views", "1", "--subdivide", "0", "--shard", "0", "--num-shards", "1",
                 "--no-progress"]) == 0
    assert load_manifest(out)["config"]["image_size"] == [32, 32]
    assert main(["data", "build-synthetic", str(out), "--split", "val"]) == 2
    assert "--split chooses a split of a recipe" in capsys.readouterr().err
