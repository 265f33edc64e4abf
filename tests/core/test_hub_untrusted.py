"""Checkpoints as untrusted input: malformed configs, crafted weights, offline Hub, bad arguments.

Every case must end in a CheckpointError that names the problem, quickly, before anything is built.
"""

import json
import re
import time
from pathlib import Path

import pytest
import torch

import emoctl
from emoctl import CheckpointError, EmotionModulators
from emoctl.config import ModulatorConfig
from emoctl.hub.shapes import expected_shapes

from ._tiny_checkpoints import TINY, edit_config, edit_weights, tiny, writer_of


@pytest.fixture
def ckpt(tmp_path) -> Path:
    tiny(1.0).save_pretrained(tmp_path / "ck")
    return tmp_path / "ck"


@pytest.fixture
def builds(monkeypatch) -> list:
    """Every EmotionModulators built from now on (their configs)."""
    built = []
    real = EmotionModulators.__init__

    def recording(self, config=None, **kwargs):
        built.append(config)
        real(self, config, **kwargs)

    monkeypatch.setattr(EmotionModulators, "__init__", recording)
    return built


@pytest.mark.parametrize(
    "field, value",
    [("emotion_dim", 2**33), ("geometry_layers", 5000), ("geometry_layers", 200000), ("token_dim", 2**40),
     ("geometry_tokens", 10**9), ("gate_layers", 10**12), ("emotions", [f"e{i}" for i in range(5000)])],
)
def test_absurd_sizes_are_refused_at_once_before_anything_is_built(ckpt, builds, field, value):
    edit_config(ckpt, **{field: value})
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match=f"config.json field '{field}'"):
        EmotionModulators.from_pretrained(ckpt)
    assert time.perf_counter() - start < 1.0
    assert builds == []


@pytest.mark.parametrize(
    "changes, problem",
    [({"geometry_layers": 3}, r"(?s)missing tensor geometry.blocks.1.cross_attn.kv.bias.*and 28 more"),
     ({"emotion_dim": 16}, r"embedding.table: checkpoint shape \(2, 8\), model shape \(2, 16\)"),
     ({"token_dim": None}, "unexpected tensor appearance.tokens.position"),
     ({"appearance_mode": "gated", "gate_layers": 2}, "missing tensor appearance.gates"),
     ({"emotions": ["neutral", "a", "b", "c"]}, r"embedding.table: checkpoint shape \(2, 8\), model shape \(3, 8\)")],
)
def test_a_config_that_does_not_describe_its_weights_is_refused_before_building(ckpt, builds, changes, problem):
    edit_config(ckpt, **changes)
    with pytest.raises(CheckpointError, match=problem):
        EmotionModulators.from_pretrained(ckpt)
    assert builds == []


@pytest.mark.parametrize(
    "overrides",
    [{}, {"token_dim": None}, {"appearance_mode": "gated", "gate_layers": 3, "geometry_layers": 2},
     {"emotions": 7, "expression_dim": 100, "geometry_dim": 12, "geometry_heads": 3, "geometry_tokens": 2}],
)
def test_expected_shapes_match_the_built_modules(overrides):
    config = ModulatorConfig(**{**TINY, **overrides})
    built = {k: tuple(v.shape) for k, v in EmotionModulators(config).state_dict().items()}
    assert expected_shapes(config) == built


MALFORMED = [
    ("format_version", "one"), ("format_version", None), ("format_version", 1.5), ("format_version", True),
    ("format_version", 0), ("format_version", ...), ("emoctl_version", 3),
    ("emotions", "happy"), ("emotions", 3), ("emotions", ["neutral", 3]), ("emotions", []), ("emotions", ...),
    ("emotions", ["neutral", "Sad", "sad"]), ("emotion_dim", "8"), ("emotion_dim", True), ("emotion_dim", 8.0),
    ("emotion_dim", -1), ("emotion_dim", None), ("token_dim", "8"), ("token_dim", 0), ("geometry_heads", 3),
    ("appearance_mode", 3), ("appearance_mode", "sideways"), ("adapter", 5), ("weights_sha256", 5),
    ("weights_sha256", "xyz"),
]


@pytest.mark.parametrize("field, value", MALFORMED)
def test_every_malformed_field_is_a_checkpoint_error_naming_file_and_field(ckpt, field, value):
    edit_config(ckpt, **{field: value})
    for load in (EmotionModulators.from_pretrained, tiny().load_pretrained):
        with pytest.raises(CheckpointError, match=re.escape(f"{ckpt}: config.json field '{field}'")):
            load(ckpt)


def test_gated_mode_without_gates_is_a_config_error(ckpt):
    edit_config(ckpt, appearance_mode="gated", gate_layers=0)
    with pytest.raises(CheckpointError, match="field 'gate_layers' must be at least 1"):
        EmotionModulators.from_pretrained(ckpt)


@pytest.mark.parametrize(
    "text, problem",
    [("[1, 2]", "must hold a JSON object"), ("[" * 100_000 + "]" * 100_000, "corrupt"),
     ('{"format": "emoctl-modulators", "emotion_dim": 1' + "0" * 5000 + "}", "corrupt"),
     (" " * (2 << 20) + "{}", "larger than"), (b"\xff\xfe{}", "corrupt")],
)
def test_unparseable_config_files_are_checkpoint_errors(ckpt, text, problem):
    path = ckpt / "config.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(CheckpointError, match=problem):
        EmotionModulators.from_pretrained(ckpt)


def test_tensors_outside_the_parts_are_refused_even_when_loading_one_part(ckpt):
    edit_weights(ckpt, audio__w=torch.zeros(3))
    for load in (EmotionModulators.from_pretrained, tiny().load_pretrained,
                 lambda p: tiny(token_dim=16).load_pretrained(p, parts="geometry")):
        with pytest.raises(CheckpointError, match=r"unexpected tensor audio\.w"):
            load(ckpt)


def test_other_parts_tensors_are_skipped_when_loading_one_part(ckpt):
    edit_weights(ckpt, appearance__gates=torch.zeros(4))  # unexpected for 'all', ignored for 'geometry'
    with pytest.raises(CheckpointError, match=r"unexpected tensor appearance\.gates"):
        tiny().load_pretrained(ckpt)
    mods = tiny(2.0, token_dim=16).load_pretrained(ckpt, parts="geometry")
    assert mods.embedding.table.detach().unique().tolist() == [1.0]
    assert mods.appearance.tokens.position.detach().unique().tolist() == [2.0]


def test_wrong_dtypes_are_refused_by_name_and_other_floats_are_converted(ckpt):
    edit_weights(ckpt, embedding__table=torch.ones(2, 8, dtype=torch.int32),
                 geometry__norm__weight=torch.ones(8, dtype=torch.bool))
    mods = tiny(2.0)
    with pytest.raises(CheckpointError, match=r"(?s)embedding\.table: stored as I32.*geometry\.norm\.weight: stored as BOOL"):
        mods.load_pretrained(ckpt)
    assert mods.embedding.table.detach().unique().tolist() == [2.0]  # nothing changed
    edit_weights(ckpt, embedding__table=torch.full((2, 8), 1.0, dtype=torch.bfloat16),
                 geometry__norm__weight=torch.ones(8, dtype=torch.float16))
    assert writer_of(ckpt) == 1.0
    assert EmotionModulators.from_pretrained(ckpt).embedding.table.dtype == torch.float32


def test_non_finite_weights_in_a_file_are_refused(ckpt):
    edit_weights(ckpt, geometry__norm__bias=torch.full((8,), float("inf")))
    with pytest.raises(CheckpointError, match=r"geometry\.norm\.bias: non-finite"):
        EmotionModulators.from_pretrained(ckpt)


def test_bad_arguments_to_the_checkpoint_entry_points(ckpt, monkeypatch):
    mods = tiny()
    for bad in (None, 3, object()):
        with pytest.raises(CheckpointError, match="checkpoint folder or a Hub repo id"):
            mods.load_pretrained(bad)
        with pytest.raises(CheckpointError, match="checkpoint folder or a Hub repo id"):
            EmotionModulators.from_pretrained(bad)
    for parts, problem in (("everything", "unknown part"), (5, "list of them"), ([], "empty"), ([None], "unknown part")):
        with pytest.raises(CheckpointError, match=problem):
            mods.load_pretrained(ckpt, parts=parts)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CheckpointError, match="revision must be str"):
        mods.load_pretrained("org/name", revision=5)
    with pytest.raises(CheckpointError, match="local_files_only must be bool"):
        mods.load_pretrained("org/name", local_files_only="yes")
    with pytest.raises(CheckpointError, match="not a valid Hub repo id"):
        mods.load_pretrained("org--x/name")  # our pattern lets it through, the Hub refuses it
    for repo_id in (None, "no-slash", "a/b/c", 3):
        with pytest.raises(CheckpointError, match="org/name"):
            mods.push_to_hub(repo_id)
    with pytest.raises(CheckpointError, match="cache_dir must be"):
        mods.load_pretrained("org/name", cache_dir=5)
    with pytest.raises(CheckpointError, match="commit_message must be str"):
        mods.push_to_hub("org/name", commit_message=None)
    with pytest.raises(CheckpointError, match="private must be bool"):
        mods.push_to_hub("org/name", private="yes")


def test_hf_hub_offline_set_after_import_is_honoured_at_once(tmp_path, monkeypatch):
    import huggingface_hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # as read at import time
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # set later, e.g. by the user's script
    real, calls = huggingface_hub.hf_hub_download, []

    def spy(**kwargs):
        calls.append(kwargs)
        if kwargs.get("local_files_only") is not True:
            raise AssertionError("would have gone to the network")
        return real(**kwargs)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", spy)
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match="not in the local Hugging Face cache"):
        EmotionModulators.from_pretrained("org/not-cached", cache_dir=tmp_path / "empty")
    assert time.perf_counter() - start < 5.0
    assert calls and all(c["local_files_only"] is True for c in calls)

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # and switched off again: the explicit value wins
    calls.clear()
    with pytest.raises(AssertionError, match="network"):
        EmotionModulators.from_pretrained("org/not-cached", cache_dir=tmp_path / "empty")
    assert calls[0]["local_files_only"] is False


def test_the_model_card_does_not_repeat_a_stale_hash(ckpt, tmp_path):
    mods = EmotionModulators.from_pretrained(ckpt)
    assert "weights_sha256" not in mods.config.extra
    with torch.no_grad():
        mods.embedding.table.fill_(3.0)
    mods.save_pretrained(tmp_path / "again")
    card = (tmp_path / "again" / "README.md").read_text()
    assert "weights_sha256" not in card
    saved = json.loads((tmp_path / "again" / "config.json").read_text())
    assert saved["weights_sha256"] != json.loads((ckpt / "config.json").read_text())["weights_sha256"]
    assert emoctl.EmotionModulators.from_pretrained(tmp_path / "again").embedding.table.detach().unique().tolist() == [3.0]


def test_extra_config_keys_cannot_shadow_fields_or_break_the_json(tmp_path):
    for extra, problem in (({"emotion_dim": 5}, "config's own keys"), ({"weights_sha256": "0"}, "config's own keys"),
                           ({"note": object()}, "JSON-serialisable"), ([1], "must be a dict")):
        with pytest.raises(ValueError, match=rf"ModulatorConfig\.extra .*{problem}"):
            ModulatorConfig(emotions=3, extra=extra)
    mods = tiny(extra={"note": "kept"})
    mods.save_pretrained(tmp_path)
    assert EmotionModulators.from_pretrained(tmp_path).config.extra == {"note": "kept"}
