"""Curve clips from the command line: `emoctl data build-synthetic --curve-clips N` (explicit sizes and
as a recipe override) and `emoctl data info` counting constant-emotion and curve clips apart."""

import json

import pytest

from emoctl.cli import main
from emoctl.data import load_manifest, verify
from emoctl.emotions import EMOTIONS
from emoctl.errors import DataError
from emoctl.synthetic import recipe

SMALL = ["--identities", "1", "--anchors", "1", "--frames", "2", "--image-size", "32", "--views", "1",
         "--subdivide", "0", "--no-progress"]


def test_explicit_build_with_a_curve_clip_and_info_counts_it(tmp_path, capsys):
    out = tmp_path / "curves"
    assert main(["data", "build-synthetic", str(out), *SMALL, "--curve-clips", "1"]) == 0
    capsys.readouterr()
    assert verify(out).ok
    assert sorted(c["emotion"] for c in load_manifest(out)["clips"]) == sorted([*EMOTIONS, "curve-0"])

    assert main(["data", "info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["clips"], info["constant_clips"], info["curve_clips"]) == (len(EMOTIONS) + 1, len(EMOTIONS), 1)
    assert info["curve_clips_per_pair"] == info["config"]["curve_clips"] == 1
    assert main(["data", "info", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"clips: {len(EMOTIONS) + 1}," in text
    assert f"clips:      {len(EMOTIONS)} constant-emotion, 1 curve (1 per identity x anchor)" in text


def test_curve_clips_override_a_recipe_and_are_recorded_only_when_given(tmp_path, capsys):
    base = recipe("tiny")
    assert "curve_clips" not in base.to_json()["kinds"]["appearance"]  # records of before stay the same
    assert base.with_overrides(frames=2).to_json() == base.with_overrides(frames=2, curve_clips=None).to_json()
    changed = base.with_overrides(("appearance",), curve_clips=2)
    assert changed.appearance.config().curve_clips == 2 and changed.geometry == base.geometry
    assert changed.appearance.clips("test") == base.appearance.clips("test") + 2
    assert changed.to_json()["kinds"]["appearance"]["curve_clips"] == 2
    with pytest.raises(DataError, match="KindRecipe.curve_clips must be an int >= 0"):
        base.with_overrides(curve_clips=-1)

    out = tmp_path / "tiny"
    args = ["data", "build-synthetic", "--recipe", "tiny", "--kind", "appearance", "--split", "test", "--frames", "2",
            "--out", str(out), "--no-progress"]
    assert main([*args, "--curve-clips", "1"]) == 0
    assert "merged: appearance/test" in capsys.readouterr().out
    record = json.loads((out / "recipe.json").read_text())["kinds"]["appearance"]
    assert record["curve_clips"] == record["config"]["curve_clips"] == 1
    assert "curve_clips" not in json.loads((out / "recipe.json").read_text())["kinds"]["geometry"]
    assert main(["data", "info", str(out / "appearance/test"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["curve_clips"] == 1
    # a build without the override is a different recipe: refused in the same folder
    assert main(args) == 2
    assert "holds a build of a different recipe" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["-1", "two", "1.5"])
def test_bad_curve_clips_are_refused_before_anything_is_written(tmp_path, capsys, value):
    for args in ([str(tmp_path / "plain"), *SMALL], ["--recipe", "tiny", "--out", str(tmp_path / "tiny"), "--no-progress"]):
        assert main(["data", "build-synthetic", *args, "--curve-clips", value]) == 2
        err = capsys.readouterr().err
        assert err == f"emoctl: error: --curve-clips must be an integer >= 0, got {value!r}\n"
    assert list(tmp_path.iterdir()) == []
