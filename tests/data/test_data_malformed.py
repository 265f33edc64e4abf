"""Malformed datasets and arguments at the public entry points of emoctl.data (issue #9).

Every one is a DataError naming the file and the field, never a raw TypeError/ValueError/IndexError
from numpy, torch or the OS, nor a tensor of the wrong size left for the DataLoader's collate:
the dataset checks what it reads for an item, every entry point checks the manifest's fields, and
``verify`` reports the same problems (byte counts and file records included).
"""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from emoctl.data import AnchorClip, PassThroughTracker, SyncedEmotionDataset, build_dataset, merge_shards, verify
from emoctl.data.cli import dataset_info
from emoctl.data.cli import main as cli_main
from emoctl.data.io import canonical_json, flame_to_bytes, load_tensors, sha256_bytes
from emoctl.media import encode_png
from emoctl.errors import DataError, ShapeError
from damage import edit_manifest, reseal_clip, reseal_file
from synced_tiny import TinyReenactor, make_anchor

KEY = "id1/anchor0/happy"
CLIP = f"clips/{KEY}"
WHO = re.escape(f"clip {KEY}: {CLIP}/")


def _item_of(ds: SyncedEmotionDataset, identity: str, anchor: str, emotion: str) -> int:
    """The index of the item whose target is that clip."""
    target = ds.vocabulary.index(emotion)
    plans = [ds.sample_plan(i) for i in range(len(ds))]
    return next(i for i, p in enumerate(plans) if (p["identity"], p["anchor"], p["target_emotion"]) == (
        identity, anchor, target))


def _flame(change):
    def damage(root):
        path = root / CLIP / "flame.safetensors"
        seq = load_tensors(path, "test")
        change(seq)
        path.write_bytes(flame_to_bytes(seq))
        reseal_clip(root, KEY)
    return damage


def _pngs(size: int, first_only: bool = False):
    def damage(root):
        for png in sorted((root / CLIP / "frames").glob("*.png"))[: 1 if first_only else None]:
            png.write_bytes(encode_png(np.zeros((size, size, 3), np.uint8)))
        reseal_clip(root, KEY)
    return damage


def _transforms_size(root):
    path = root / CLIP / "transforms.json"
    data = json.loads(path.read_text())
    for frame in [data, *data["frames"]]:
        frame["w"] = frame["h"] = 32
    path.write_bytes(canonical_json(data))
    reseal_clip(root, KEY)


def _reference_image(root):
    (root / "identities/id1/reference.png").write_bytes(encode_png(np.zeros((16, 16, 3), np.uint8)))
    reseal_file(root, "identities", "id1", "reference.png")


ITEM_DAMAGE = {
    "NaN in expr": (_flame(lambda s: s["expr"].__setitem__((0, 5), float("nan"))),
                    WHO + r"flame.safetensors\['expr'\] contains NaN or infinite values"),
    "expr [T, 50]": (_flame(lambda s: s.__setitem__("expr", s["expr"][:, :50].clone())),
                     WHO + r"flame.safetensors\['expr'\]: expected shape \[6, 100\], got \[6, 50\]"),
    "FLAME one frame short": (_flame(lambda s: s.update({k: v[:5].clone() for k, v in s.items() if k != "betas"})),
                              WHO + r"flame.safetensors\['expr'\]: expected 6 frames"),
    "betas [10]": (_flame(lambda s: s.__setitem__("betas", torch.zeros(10))),
                   WHO + r"flame.safetensors\['betas'\]: expected a floating tensor of shape \[300\]"),
    "16x16 frames": (_pngs(16), WHO + r"frames/\d{5}_\d{2}.png holds \[16, 16, 3\], expected \[64, 64, 3\]"),
    "timestamps cut short": (lambda root: reseal_clip(root, KEY, lambda r: r.__setitem__("timestamps", r["timestamps"][:1])),
                             WHO + r"clip.json timestamps: expected shape \[6\], got \[1\]"),
    "cameras for 32x32": (_transforms_size, WHO + r"transforms.json has 2 views of 32x32, the manifest says 2 of 64x64"),
    "16x16 reference image": (_reference_image,
                              r"identity id1: identities/id1/reference.png holds \[16, 16, 3\], the manifest says \[64, 64, 3\]"),
}


@pytest.mark.parametrize("case", list(ITEM_DAMAGE))
def test_an_item_with_a_damaged_file_is_a_data_error_naming_the_clip_and_file(tiny_copy, case):
    damage, message = ITEM_DAMAGE[case]
    damage(tiny_copy)
    ds = SyncedEmotionDataset(tiny_copy, "self", 3, "all")
    with pytest.raises(DataError, match=message):
        ds[_item_of(ds, *KEY.split("/"))]
    assert any(re.fullmatch(message + ".*", p) for p in verify(tiny_copy).problems)  # the same words


def test_a_damaged_frame_stops_the_data_loader_before_the_collate(tiny_copy):
    _pngs(16)(tiny_copy)
    ds = SyncedEmotionDataset(tiny_copy, "self", 3, "heldout", heldout_identities=["id1"], heldout_anchors=["anchor0"])
    with pytest.raises(DataError, match=WHO + r"frames/\d{5}_\d{2}.png holds \[16, 16, 3\]"):
        list(DataLoader(ds, batch_size=len(ds), num_workers=0))


MANIFEST_DAMAGE = {
    "num_frames as a string": (lambda m: m["clips"][4].__setitem__("num_frames", "3"),
                               r"clips\[4\] \(id0/anchor1/happy\): num_frames is '3', expected an int >= 1"),
    "bytes as a string": (lambda m: m["anchors"][0]["files"]["neutral.safetensors"].__setitem__("bytes", "12"),
                          r"anchors\[0\] \(anchor0\): files\['neutral.safetensors'\] is .* expected"),
    "a clip's bytes as a string": (lambda m: m["clips"][0].__setitem__("bytes", "12"),
                                   r"clips\[0\] \(id0/anchor0/neutral\): bytes is '12', expected an int >= 0"),
    "a clip.json checksum that is not a digest": (
        lambda m: m["clips"][1]["clip_json"].__setitem__("sha256", "abc"),
        r"clips\[1\] \(id0/anchor0/happy\): clip_json is .*'abc'.*, expected \{\"sha256\""),
    "files as a list": (lambda m: m["anchors"][1].__setitem__("files", []),
                        r"anchors\[1\] \(anchor1\): files is list, expected an object"),
    "a file outside its directory": (
        lambda m: m["identities"][0]["files"].__setitem__("../../manifest.json", m["identities"][0]["files"]["reference.png"]),
        r"identities\[0\] \(id0\): files lists '../../manifest.json', not a relative path"),
    "emotions as a number": (lambda m: m.__setitem__("emotions", 5), r"emotions is 5, expected a list of names"),
    "a list for an identity id": (lambda m: m["clips"][2].__setitem__("identity", ["id0"]),
                                  r"clips\[2\] \(id0/anchor0/sad\): identity is \['id0'\], expected a safe id"),
    "an empty generator": (lambda m: m.__setitem__("generator", {}), r"generator is \{\}, expected an object"),
    "an unknown reference emotion": (lambda m: m["identities"][2].__setitem__("reference_emotion", "bored"),
                                     r"identity 'id2' has reference_emotion 'bored', not in the vocabulary"),
    "an infinite fps": (lambda m: m["anchors"][0].__setitem__("fps", float("inf")),
                        r"anchors\[0\] \(anchor0\): fps is inf, expected a finite number > 0"),
    "a clip size off the config": (lambda m: m["clips"][7].__setitem__("height", 32),
                                   r"clip id1/anchor0/happy: disagrees with the dataset config on height 32 \(config: 64\)"),
}


@pytest.mark.parametrize("case", list(MANIFEST_DAMAGE))
def test_a_malformed_manifest_field_is_named_by_every_entry_point(tiny_dataset, tmp_path, capsys, case):
    change, message = MANIFEST_DAMAGE[case]
    shutil.copy(tiny_dataset / "manifest.json", tmp_path)  # every entry point stops at the manifest
    edit_manifest(tmp_path, change)
    with pytest.raises(DataError, match=message):
        SyncedEmotionDataset(tmp_path, "self", 3, "all")
    with pytest.raises(DataError, match=message):
        dataset_info(str(tmp_path))
    assert cli_main(["info", str(tmp_path)]) == 1
    assert re.search(message, capsys.readouterr().err)
    problems = verify(tmp_path).problems
    assert any(re.search(message, p) for p in problems), problems


def test_a_manifest_whose_clips_are_not_synchronised_is_refused_by_the_dataset(tiny_copy):
    edit_manifest(tiny_copy, lambda m: m["clips"][1].__setitem__("num_frames", 5))
    with pytest.raises(DataError, match="clip id0/anchor0/happy has 5 frames, its anchor anchor0 has 6: not synchronised"):
        SyncedEmotionDataset(tiny_copy, "cross_identity", 3, "all")
    assert "not synchronised: clip id0/anchor0/happy has 5 frames" in "\n".join(verify(tiny_copy).problems)


def test_verify_checks_the_recorded_byte_counts(tiny_copy):
    edit_manifest(tiny_copy, lambda m: m["clips"][-1].__setitem__("bytes", 1))
    (clip,) = [c for c in json.loads((tiny_copy / "manifest.json").read_text())["clips"] if c["key"] == "id2/anchor1/sad"]
    size = sum(p.stat().st_size for p in (tiny_copy / "clips/id2/anchor1/sad").rglob("*") if p.is_file())
    assert verify(tiny_copy, check_frames=False).problems == [
        f"clip id2/anchor1/sad: clips/id2/anchor1/sad/clip.json lists {clip['num_files']} files of {size} bytes, "
        f"the manifest says {clip['num_files']} files of 1 bytes",
    ]
    edit_manifest(tiny_copy, lambda m: m["anchors"][0]["files"]["sad.safetensors"].__setitem__("bytes", 1))
    size = (tiny_copy / "anchors/anchor0/sad.safetensors").stat().st_size
    assert verify(tiny_copy, check_frames=False).problems[0] == (
        f"anchor anchor0: size mismatch in anchors/anchor0/sad.safetensors (manifest 1 bytes, file {size} bytes)")


def test_verify_checks_clip_files_against_the_records_of_clip_json(tiny_copy):
    path = tiny_copy / "clips/id0/anchor0/sad/clip.json"
    record = json.loads(path.read_text())
    size = record["files"]["transforms.json"]["bytes"]
    record["files"]["transforms.json"]["bytes"] += 1
    path.write_bytes(data := canonical_json(record))
    # the manifest's clip.json checksum resealed over the edited clip.json: the file no longer matches its
    # record, and the clip's byte total no longer matches the manifest's
    edit_manifest(tiny_copy, lambda m: m["clips"][2]["clip_json"].update(sha256=sha256_bytes(data), bytes=len(data)))
    clip = json.loads((tiny_copy / "manifest.json").read_text())["clips"][2]
    assert verify(tiny_copy, check_frames=False).problems == [
        f"clip id0/anchor0/sad: clips/id0/anchor0/sad/clip.json lists {clip['num_files']} files of {clip['bytes'] + 1} "
        f"bytes, the manifest says {clip['num_files']} files of {clip['bytes']} bytes",
        f"clip id0/anchor0/sad: size mismatch in clips/id0/anchor0/sad/transforms.json (clip.json {size + 1} bytes, "
        f"file {size} bytes)",
    ]


def test_verify_reports_a_clip_json_changed_behind_the_manifest(tiny_copy):
    """A clip.json edited (or resealed over damaged files) without the manifest: its own checksum fails,
    and what it lists is still checked."""
    path = tiny_copy / "clips/id0/anchor0/sad/clip.json"
    before = path.read_bytes()
    record = json.loads(before)
    record["files"]["flame.safetensors"]["sha256"] = "0" * 64
    path.write_bytes(canonical_json(record))
    problems = verify(tiny_copy, check_frames=False).problems
    assert len(problems) == 2
    assert problems[0].startswith("clip id0/anchor0/sad: checksum mismatch in clips/id0/anchor0/sad/clip.json (manifest ")
    assert problems[1].startswith("clip id0/anchor0/sad: checksum mismatch in clips/id0/anchor0/sad/flame.safetensors "
                                  "(clip.json sha256 000000000000...")
    path.write_text("not json")
    problems = verify(tiny_copy, check_frames=False).problems
    assert len(problems) == 2 and "clips/id0/anchor0/sad/clip.json" in problems[1] and "JSON" in problems[1]
    path.write_bytes(before)
    assert verify(tiny_copy).ok


def test_verify_reports_malformed_identity_and_anchor_files_without_raising(tiny_copy):
    (tiny_copy / "identities/id0/identity.json").write_text("[1]")
    reseal_file(tiny_copy, "identities", "id0", "identity.json")
    info = json.loads((tiny_copy / "identities/id2/identity.json").read_text())
    (tiny_copy / "identities/id2/identity.json").write_bytes(canonical_json({**info, "height": 32}))
    reseal_file(tiny_copy, "identities", "id2", "identity.json")
    (tiny_copy / "identities/id1/betas.safetensors").write_bytes(flame_to_bytes({"beta": torch.zeros(300)}))
    reseal_file(tiny_copy, "identities", "id1", "betas.safetensors")
    record = json.loads((tiny_copy / "anchors/anchor1/anchor.json").read_text())
    (tiny_copy / "anchors/anchor1/anchor.json").write_bytes(canonical_json({**record, "fps": 7.0}))
    reseal_file(tiny_copy, "anchors", "anchor1", "anchor.json")
    assert verify(tiny_copy, check_frames=False).problems == [
        "identity id0: identities/id0/identity.json is not a JSON object",
        "identity id1: identities/id1/betas.safetensors has no 'betas' entry",
        "identity id2: identities/id2/identity.json disagrees with the manifest on ['height']",
        "anchor anchor1: anchors/anchor1/anchor.json disagrees with the manifest on ['fps']",
    ]


def test_merge_names_a_malformed_shard_entry(tiny_copy):
    shard = tiny_copy / "shards/shard-0-of-1.json"
    original = json.loads(shard.read_text())
    damages = [
        (lambda s: s["clips"].__setitem__(0, [1]), r"clips\[0\] lacks \['key'"),
        (lambda s: s["clips"][1].__setitem__("key", ["x"]), r"clips\[1\]: key is \['x'\], expected a string"),
        (lambda s: s.__setitem__("identities", 3), "identities is missing or not a list"),
        (lambda s: s["clips"][2].__setitem__("dir", 3), r"clips\[2\] \(id0/anchor0/sad\): dir is 3, expected a string"),
        (lambda s: s["jobs"].__setitem__("anchors", [["anchor0"]]), "jobs is .*, expected non-empty lists of ids"),
    ]
    for change, message in damages:
        damaged = json.loads(json.dumps(original))
        change(damaged)
        shard.write_text(json.dumps(damaged))
        with pytest.raises(DataError, match=r"shards/shard-0-of-1.json is malformed:\n  shards/shard-0-of-1.json: "
                                            + message):
            merge_shards(tiny_copy)


def test_malformed_arguments_are_clear_errors(tiny_dataset, tmp_path):
    with pytest.raises(DataError, match="seed must be an int, got 'x'"):
        SyncedEmotionDataset(tiny_dataset, "self", 3, "all", seed="x")
    with pytest.raises(DataError, match=r"held-out identity ids must be a list of id strings, got \[\['id0'\]\]"):
        SyncedEmotionDataset(tiny_dataset, "self", 3, "all", heldout_identities=[["id0"]])
    ds = SyncedEmotionDataset(tiny_dataset, "self", 3, "all")
    with pytest.raises(DataError, match="epoch must be an int, got '2'"):
        ds.set_epoch("2")
    with pytest.raises(TypeError, match="dataset indices must be ints, got str"):
        ds["0"]
    with pytest.raises(ShapeError, match=r"timestamps: expected a \[T\] list of seconds"):
        anchor = make_anchor("a0")
        AnchorClip("a0", 5.0, anchor.emotions, ["a"] * 6, anchor.cameras)
    with pytest.raises(DataError, match="anchors must be an iterable of AnchorClip objects, got NoneType"):
        build_dataset(None, [], TinyReenactor(), PassThroughTracker(), tmp_path)
