"""emoctl.flame_schema: the one definition of the FLAME keys and sizes, its validators and packing."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
import torch

import emoctl.flame_schema as fs
from emoctl.errors import NonFiniteError, ShapeError
from emoctl.flame_schema import (
    FIXED_SIZES,
    FLAME_SCHEMA,
    FRAME_KEYS,
    IDENTITY_KEYS,
    POSE_KEYS,
    FlameSchema,
    pack_expression_jaw,
    unpack_expression_jaw,
)

SRC = Path(__file__).resolve().parents[2] / "src" / "emoctl"


def sequence(frames: int = 5, schema: FlameSchema = FLAME_SCHEMA, betas: bool = True) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(frames)
    seq = {k: torch.randn(frames, n, generator=g) for k, n in schema.frame_sizes().items()}
    if betas:
        seq.update({k: torch.randn(n, generator=g) for k, n in schema.identity_sizes().items()})
    return seq


# ---------------------------------------------------------------------- the schema itself
def test_keys_and_sizes_in_lams_order():
    assert FRAME_KEYS == ("expr", "jaw_pose", "rotation", "neck_pose", "eyes_pose", "translation")
    assert IDENTITY_KEYS == ("betas",)
    assert FLAME_SCHEMA.frame_sizes() == {"expr": 100, "jaw_pose": 3, "rotation": 3, "neck_pose": 3, "eyes_pose": 6, "translation": 3}
    assert FLAME_SCHEMA.identity_sizes() == {"betas": 300}
    assert list(FLAME_SCHEMA.sizes()) == [*FRAME_KEYS, *IDENTITY_KEYS]
    assert set(POSE_KEYS) == set(FIXED_SIZES) - {"translation"}
    small = FlameSchema(expression_dim=50, shape_dim=20)
    assert small.frame_sizes()["expr"] == 50 and small.identity_sizes() == {"betas": 20} and small.packed_dim == 53
    small.frame_sizes()["expr"] = 7  # a fresh dict each time: callers cannot change the schema
    assert small.frame_sizes()["expr"] == 50


@pytest.mark.parametrize("bad", [-1, 2.0, True, "100", None])
def test_sizes_must_be_non_negative_ints(bad):
    with pytest.raises(ShapeError, match="expression_dim"):
        FlameSchema(expression_dim=bad)
    with pytest.raises(ShapeError, match="shape_dim"):
        FlameSchema(shape_dim=bad)


# ---------------------------------------------------------------------- every other place derives from it
def test_the_flame_layer_the_dataset_and_the_synthetic_world_take_their_keys_from_the_schema():
    from emoctl import data, flame, geometry
    from emoctl.data import flame_params
    from emoctl.synthetic import avatar, reenactor
    from emoctl.testing.lam_layout import LAMLayoutConfig, make_inputs

    assert data.FLAME_FRAME_KEYS == FLAME_SCHEMA.frame_sizes()
    assert data.FLAME_IDENTITY_KEYS == FLAME_SCHEMA.identity_sizes()
    assert flame_params.IDENTITY_KEYS is IDENTITY_KEYS
    assert list(flame.PARAM_SIZES) == list(FLAME_SCHEMA.sizes())
    assert {k: v for k, v in flame.PARAM_SIZES.items() if v is not None} == dict(FIXED_SIZES)
    assert (flame.NUM_EXPRESSION, flame.NUM_SHAPE) == (FLAME_SCHEMA.expression_dim, FLAME_SCHEMA.shape_dim)
    assert avatar.FRAME_KEYS is FRAME_KEYS and reenactor.FRAME_KEYS is FRAME_KEYS
    assert geometry.pack_expression_jaw is pack_expression_jaw and geometry.unpack_expression_jaw is unpack_expression_jaw
    for e in (100, 50):
        params = make_inputs(LAMLayoutConfig(expression_dim=e), batch=2, frames=3)[-1]
        sizes = FlameSchema(expression_dim=e).sizes()
        assert list(params) == list(sizes)
        assert all(v.shape[-1] == sizes[k] for k, v in params.items())


def test_the_flame_layer_takes_its_sizes_from_the_model():
    from emoctl.flame import FLAME
    from tests.flame.flame_factories import model_data_from_arrays, random_flame_arrays

    data = model_data_from_arrays(random_flame_arrays(seed=1))
    data = dataclasses.replace(data, exprdirs=data.exprdirs[..., :50].clone(), shapedirs=data.shapedirs[..., :20].clone())
    layer = FLAME(data)
    assert layer.schema == FlameSchema(expression_dim=50, shape_dim=20)
    assert layer({"expr": torch.zeros(2, 50), "betas": torch.zeros(2, 20)}).vertices.shape == (2, data.num_vertices, 3)
    with pytest.raises(ShapeError, match="51 coefficients"):
        layer({"expr": torch.zeros(2, 51)})


def test_no_module_but_the_schema_defines_the_flame_keys():
    """Outside flame_schema.py, ``"eyes_pose"`` appears only in uses: no key tuple/list/set, no
    ``{"eyes_pose": 6}`` size table (dict literals that fill in tensors are uses)."""
    definitions = []
    for path in SRC.rglob("*.py"):
        if path.name == "flame_schema.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
                items = node.elts
            elif isinstance(node, ast.Dict):
                items = [k for k, v in zip(node.keys, node.values) if isinstance(v, ast.Constant)]
            else:
                continue
            if any(isinstance(i, ast.Constant) and i.value == "eyes_pose" for i in items):
                definitions.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert not definitions, definitions


# ---------------------------------------------------------------------- [T, D] sequences
def test_sequence_validation_accepts_a_sequence_and_returns_its_length():
    assert FLAME_SCHEMA.validate_sequence(sequence(5)) == 5
    assert FLAME_SCHEMA.validate_sequence(sequence(5, betas=False), num_frames=5) == 5


@pytest.mark.parametrize(
    "change, error, words",
    [
        (lambda s: s.__setitem__("shape", torch.zeros(300)), ShapeError, ["unknown", "'shape'"]),
        (lambda s: s.pop("eyes_pose"), ShapeError, ["missing", "eyes_pose"]),
        (lambda s: s.__setitem__("neck_pose", torch.zeros(5, 4)), ShapeError, ["neck_pose", "[5, 3]", "[5, 4]"]),
        (lambda s: s.__setitem__("expr", torch.zeros(5, 100, dtype=torch.int32)), ShapeError, ["expr", "floating", "int32"]),
        (lambda s: s.__setitem__("jaw_pose", [[0.0] * 3] * 5), ShapeError, ["jaw_pose", "floating", "list"]),
        (lambda s: s.__setitem__("betas", torch.zeros(299)), ShapeError, ["betas", "[300]"]),
        (lambda s: s["expr"].__setitem__((4, 99), float("inf")), NonFiniteError, ["expr", "NaN or infinite"]),
        (lambda s: s["betas"].__setitem__(0, float("nan")), NonFiniteError, ["betas", "NaN"]),
    ],
)
def test_sequence_validation_names_the_problem(change, error, words):
    seq = sequence(5)
    change(seq)
    with pytest.raises(error) as info:
        FLAME_SCHEMA.validate_sequence(seq, name="clip Y")
    for word in ["clip Y", *words]:
        assert word in str(info.value)


def test_sequence_validation_can_leave_finiteness_to_the_caller():
    seq = sequence(3)
    seq["rotation"][0, 0] = float("nan")
    assert FLAME_SCHEMA.validate_sequence(seq, require_finite=False) == 3


def test_the_expression_size_is_configurable_in_the_dataset_validator_too():
    from emoctl.data.flame_params import as_flame_sequence, validate_flame_sequence

    small = FlameSchema(expression_dim=50)
    seq = sequence(4, small)
    assert small.validate_sequence(seq) == 4
    assert validate_flame_sequence(seq, schema=small) == 4
    assert as_flame_sequence({k: v.double().numpy() for k, v in seq.items()}, schema=small)["expr"].shape == (4, 50)
    with pytest.raises(ShapeError, match=r"\[T, 100\]"):
        validate_flame_sequence(seq)  # the default schema is FLAME's 100
    with pytest.raises(ShapeError, match=r"\[T, 50\]"):
        small.validate_sequence(sequence(4))


# ---------------------------------------------------------------------- [B, (T,) D] dicts
def test_batch_validation_returns_the_batch_and_frame_counts():
    params = {k: torch.zeros(2, 4, n) for k, n in FLAME_SCHEMA.frame_sizes().items()}
    params["betas"] = torch.zeros(2, 300)
    params["jaw_pose"] = torch.zeros(2, 3)  # no frame axis: broadcast by the consumer
    checked = FLAME_SCHEMA.validate_batch(params)
    assert (checked.batch, checked.frames) == (2, 4)
    assert all(checked.tensors[k] is params[k] for k in params)  # checked, not copied
    empty = FLAME_SCHEMA.validate_batch({"expr": None})
    assert empty == (fs.FlameBatch({}, None, None))


@pytest.mark.parametrize(
    "params, kwargs, error, words",
    [
        ([torch.zeros(1, 100)], {}, ShapeError, ["dict"]),
        ({"exp": torch.zeros(1, 100)}, {}, ShapeError, ["unknown", "'exp'"]),
        ({"jaw_pose": torch.zeros(1, 3)}, {"required": ["expr"]}, ShapeError, ["missing", "expr"]),
        ({"expr": torch.zeros(1, 100, dtype=torch.int64)}, {}, ShapeError, ["'expr'", "floating"]),
        ({"expr": torch.zeros(1, 100).numpy()}, {}, ShapeError, ["'expr'", "numpy"]),
        ({"eyes_pose": torch.zeros(1, 3)}, {}, ShapeError, ["'eyes_pose'", "6 values"]),
        ({"expr": torch.zeros(1, 99)}, {}, ShapeError, ["'expr'", "100 values"]),
        ({"expr": torch.zeros(1, 101)}, {"padded": ["expr"]}, ShapeError, ["101 coefficients", "at most 100"]),
        ({"betas": torch.zeros(1, 2, 300)}, {}, ShapeError, ["'betas'", "[B, 300]"]),
        ({"rotation": torch.zeros(3)}, {}, ShapeError, ["'rotation'", "[B, 3] or [B, T, 3]"]),
        ({"expr": torch.zeros(2, 100), "jaw_pose": torch.zeros(3, 3)}, {}, ShapeError, ["'jaw_pose'", "batch size 3"]),
        ({"expr": torch.zeros(2, 4, 100), "jaw_pose": torch.zeros(2, 5, 3)}, {}, ShapeError, ["'jaw_pose'", "5 frames"]),
        ({"translation": torch.tensor([[0.0, float("nan"), 0.0]])}, {}, NonFiniteError, ["'translation'"]),
        ({"jaw_pose": torch.zeros(1, 3, dtype=torch.bool)}, {"dtype": torch.float64}, ShapeError, ["float", "bool"]),
        ({"expr": torch.full((1, 100), 1e300, dtype=torch.float64)}, {"dtype": torch.float32}, NonFiniteError, ["'expr'"]),
    ],
)
def test_batch_validation_names_the_problem(params, kwargs, error, words):
    with pytest.raises(error) as info:
        FLAME_SCHEMA.validate_batch(params, name="my params", **kwargs)
    for word in ["my params", *words] if isinstance(params, dict) else words:
        assert word in str(info.value)


def test_batch_validation_converts_with_a_dtype_and_checks_only_the_keys_asked_for():
    checked = FLAME_SCHEMA.validate_batch(
        {"expr": [[1, 2] + [0] * 98], "betas": torch.zeros(1, 10, dtype=torch.int32)},
        padded=["betas"], dtype=torch.float64,
    )
    assert checked.tensors["expr"].dtype == torch.float64 and checked.tensors["expr"][0, 1] == 2.0
    assert checked.tensors["betas"].shape == (1, 10)
    extra = {"expr": torch.zeros(1, 100), "static_offset": "anything", "jaw_pose": torch.zeros(1, 3)}
    subset = FLAME_SCHEMA.validate_batch(extra, keys=["expr"])
    assert list(subset.tensors) == ["expr"]
    nan = {"expr": torch.full((1, 100), float("nan"))}
    assert FLAME_SCHEMA.validate_batch(nan, finite=False).tensors["expr"] is nan["expr"]


# ---------------------------------------------------------------------- expression + jaw packing
@pytest.mark.parametrize("lead", [(2,), (2, 4)])
def test_pack_and_unpack_round_trip(lead):
    params = {"expr": torch.randn(*lead, 100), "jaw_pose": torch.randn(*lead, 3, dtype=torch.float64), "betas": torch.randn(2, 300)}
    packed, added = pack_expression_jaw(params)
    assert added == (len(lead) == 1)
    assert packed.shape == (2, lead[1] if len(lead) == 2 else 1, 103) and packed.dtype == torch.float32
    out = unpack_expression_jaw(packed, params, added)
    assert out is not params and out["betas"] is params["betas"]
    assert torch.equal(out["expr"], params["expr"]) and out["jaw_pose"].dtype == torch.float64
    torch.testing.assert_close(out["jaw_pose"], params["jaw_pose"], rtol=0, atol=1e-6)


def test_pack_with_another_expression_size_and_the_split_helpers():
    small = FlameSchema(expression_dim=50)
    params = {"expr": torch.randn(1, 3, 50), "jaw_pose": torch.randn(1, 3, 3)}
    packed, _ = small.pack_expression_jaw(params)
    assert torch.equal(pack_expression_jaw(params, 50)[0], packed) and packed.shape == (1, 3, 53)
    expr, jaw = fs.split_expression_jaw(packed)
    assert torch.equal(expr, params["expr"]) and torch.equal(jaw, params["jaw_pose"])
    assert torch.equal(fs.join_expression_jaw(expr, jaw), packed)
    with pytest.raises(ShapeError, match="100 values"):
        pack_expression_jaw(params)


@pytest.mark.parametrize(
    "params, words",
    [
        ({"expr": torch.zeros(1, 4, 100)}, ["missing", "jaw_pose"]),
        ({"expr": torch.zeros(1, 4, 100, dtype=torch.int64), "jaw_pose": torch.zeros(1, 4, 3)}, ["'expr'", "floating", "int64"]),
        ({"expr": torch.zeros(1, 4, 100), "jaw_pose": torch.zeros(1, 4, 3, dtype=torch.int32)}, ["'jaw_pose'", "floating"]),
        ({"expr": torch.zeros(1, 4, 100), "jaw_pose": torch.zeros(1, 3)}, ["'jaw_pose'", "[1, 4, 3]", "[1, 3]"]),
        ({"expr": torch.zeros(1, 4, 100), "jaw_pose": torch.zeros(1, 5, 3)}, ["'jaw_pose'", "5 frames"]),
    ],
)
def test_pack_refuses_what_it_cannot_pack_faithfully(params, words):
    with pytest.raises(ShapeError) as info:
        pack_expression_jaw(params)
    for word in ["flame_params", *words]:
        assert word in str(info.value)
