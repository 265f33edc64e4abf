"""The FLAME layer against an independent numpy implementation of the FLAME equations."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from emoctl.errors import NonFiniteError, ShapeError
from emoctl.flame import FLAME, FlameModelData

from .flame_factories import model_data_from_arrays, numpy_flame, random_flame_arrays


@pytest.fixture(scope="module")
def data64() -> FlameModelData:
    data = model_data_from_arrays(random_flame_arrays(seed=7), dtype=torch.float64)
    rng = np.random.default_rng(2)
    data.lmk_faces_idx = torch.tensor([0, 5, 17, 30], dtype=torch.int64)
    data.lmk_bary_coords = torch.tensor(rng.dirichlet(np.ones(3), 4))
    data.landmark_names = ["a", "b", "c", "d"]
    return data


def random_params(rng: np.random.Generator, batch: int, frames: int | None, n_betas: int = 300, n_expr: int = 100) -> dict:
    lead = (batch,) if frames is None else (batch, frames)

    def r(*shape, scale=1.0):
        return torch.tensor(scale * rng.standard_normal(shape))

    return {
        "betas": r(batch, n_betas),
        "expr": r(*lead, n_expr),
        "rotation": r(*lead, 3, scale=0.4),
        "neck_pose": r(*lead, 3, scale=0.3),
        "jaw_pose": r(*lead, 3, scale=0.3),
        "eyes_pose": r(*lead, 6, scale=0.3),
        "translation": r(*lead, 3, scale=0.1),
    }


def reference(data: FlameModelData, params: dict, b: int, t: int | None):
    def frame(key):
        v = params[key][b]
        return (v if t is None else v[t]).numpy()

    pose = np.concatenate([frame("rotation"), frame("neck_pose"), frame("jaw_pose"), frame("eyes_pose")])
    return numpy_flame(data, params["betas"][b].numpy(), frame("expr"), pose, frame("translation"))


@pytest.mark.parametrize("frames", [None, 3])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_numpy_reference(data64, frames, seed):
    rng = np.random.default_rng(seed)
    params = random_params(rng, batch=2, frames=frames)
    out = FLAME(data64)(params)
    lead = (2,) if frames is None else (2, frames)
    assert out.vertices.shape == (*lead, data64.num_vertices, 3)
    assert out.joints.shape == (*lead, 5, 3)
    assert out.landmarks.shape == (*lead, 4, 3)
    for b in range(2):
        for t in [None] if frames is None else range(frames):
            verts, joints = reference(data64, params, b, t)
            index = (b,) if t is None else (b, t)
            np.testing.assert_allclose(out.vertices[index].numpy(), verts, atol=1e-8, rtol=0)
            np.testing.assert_allclose(out.joints[index].numpy(), joints, atol=1e-8, rtol=0)
            corners = verts[data64.faces[data64.lmk_faces_idx].numpy()]
            lmk = np.einsum("lkc,lk->lc", corners, data64.lmk_bary_coords.numpy())
            np.testing.assert_allclose(out.landmarks[index].numpy(), lmk, atol=1e-8, rtol=0)


def test_float32_model_close_to_reference(data64):
    params = random_params(np.random.default_rng(5), batch=1, frames=None)
    out = FLAME(data64.to(dtype=torch.float32))({k: v.float() for k, v in params.items()})
    verts, _ = reference(data64, params, 0, None)
    assert out.vertices.dtype == torch.float32
    np.testing.assert_allclose(out.vertices[0].numpy(), verts, atol=2e-5)


def test_zero_and_missing_parameters_give_the_template(data64):
    flame = FLAME(data64)
    for params in ({}, {"expr": torch.zeros(3, 100)}, {k: torch.zeros(1, 4, n) for k, n in (("jaw_pose", 3), ("eyes_pose", 6))}):
        out = flame(params)
        expected = data64.v_template.expand_as(out.vertices)
        assert torch.equal(out.vertices, expected) or torch.allclose(out.vertices, expected, atol=1e-15)
    assert flame({}).vertices.shape == (1, data64.num_vertices, 3)


def test_translation_moves_everything(data64):
    flame = FLAME(data64)
    params = random_params(np.random.default_rng(3), batch=1, frames=None)
    shift = torch.tensor([[0.1, -0.2, 0.3]], dtype=torch.float64)
    a = flame({**params, "translation": torch.zeros(1, 3, dtype=torch.float64)})
    b = flame({**params, "translation": shift})
    torch.testing.assert_close(b.vertices - a.vertices, shift[:, None].expand_as(a.vertices))
    torch.testing.assert_close(b.joints - a.joints, shift[:, None].expand_as(a.joints))
    torch.testing.assert_close(b.landmarks - a.landmarks, shift[:, None].expand_as(a.landmarks))


def test_jaw_moves_only_jaw_weighted_vertices(data64):
    data = dataclasses.replace(data64, posedirs=torch.zeros_like(data64.posedirs))
    flame = FLAME(data)
    rest = flame({})
    opened = flame({"jaw_pose": torch.tensor([[0.4, 0.05, 0.0]], dtype=torch.float64)})
    moved = (opened.vertices - rest.vertices).norm(dim=-1)[0]
    jaw_w = data.lbs_weights[:, 2]
    assert (jaw_w == 0).sum() > 3 and (jaw_w > 0.2).sum() > 3
    assert moved[jaw_w == 0].max() < 1e-12
    assert moved[jaw_w > 0.2].min() > 1e-4


def test_short_coefficient_vectors_are_zero_padded(data64):
    flame = FLAME(data64)
    rng = np.random.default_rng(4)
    betas, expr = torch.tensor(rng.standard_normal((2, 50))), torch.tensor(rng.standard_normal((2, 10)))
    short = flame({"betas": betas, "expr": expr})
    full = flame(
        {"betas": torch.nn.functional.pad(betas, (0, 250)), "expr": torch.nn.functional.pad(expr, (0, 90))}
    )
    torch.testing.assert_close(short.vertices, full.vertices, rtol=0, atol=0)


def test_betas_broadcast_over_frames(data64):
    flame = FLAME(data64)
    rng = np.random.default_rng(6)
    betas = torch.tensor(rng.standard_normal((2, 300)))
    expr = torch.tensor(rng.standard_normal((2, 4, 100)))
    seq = flame({"betas": betas, "expr": expr})
    for t in range(4):
        one = flame({"betas": betas, "expr": expr[:, t]})
        torch.testing.assert_close(seq.vertices[:, t], one.vertices)


@pytest.mark.parametrize(
    "params, error, words",
    [
        ({"exp": torch.zeros(1, 100)}, ShapeError, "'exp'"),
        ({"expr": torch.zeros(1, 101)}, ShapeError, "101 coefficients"),
        ({"betas": torch.zeros(1, 301)}, ShapeError, "'betas'"),
        ({"betas": torch.zeros(1, 2, 300)}, ShapeError, "[B, 300]"),
        ({"jaw_pose": torch.zeros(1, 2)}, ShapeError, "'jaw_pose'"),
        ({"eyes_pose": torch.zeros(1, 3)}, ShapeError, "6 values"),
        ({"expr": torch.zeros(100)}, ShapeError, "'expr'"),
        ({"expr": torch.zeros(2, 100), "jaw_pose": torch.zeros(3, 3)}, ShapeError, "batch size"),
        ({"expr": torch.zeros(2, 4, 100), "jaw_pose": torch.zeros(2, 5, 3)}, ShapeError, "frames"),
        ({"expr": torch.full((1, 100), float("nan"))}, NonFiniteError, "'expr'"),
        ({"rotation": torch.tensor([[0.0, float("inf"), 0.0]])}, NonFiniteError, "'rotation'"),
        ({"jaw_pose": torch.zeros(1, 3, dtype=torch.bool)}, ShapeError, "float"),
    ],
)
def test_bad_parameters_are_clear_errors(data64, params, error, words):
    with pytest.raises(error) as info:
        FLAME(data64)(params)
    assert words in str(info.value)


def test_not_a_dict(data64):
    with pytest.raises(ShapeError, match="dict"):
        FLAME(data64)(torch.zeros(1, 100))


def test_buffers_not_parameters_and_gradients_flow(data64):
    flame = FLAME(data64)
    assert list(flame.parameters()) == []
    assert {"v_template", "shapedirs", "posedirs", "J_regressor", "lbs_weights"} <= set(flame.state_dict())
    expr = torch.zeros(1, 100, dtype=torch.float64, requires_grad=True)
    jaw = torch.zeros(1, 3, dtype=torch.float64, requires_grad=True)
    flame({"expr": expr, "jaw_pose": jaw}).vertices.square().sum().backward()
    assert expr.grad is not None and expr.grad.abs().sum() > 0
    assert jaw.grad is not None and jaw.grad.abs().sum() > 0
    assert flame.v_template.grad is None


def test_model_without_landmarks(data64):
    data = dataclasses.replace(data64, lmk_faces_idx=None, lmk_bary_coords=None, landmark_names=[])
    assert FLAME(data)({}).landmarks is None


def test_from_file(tmp_path, data64):
    from emoctl.flame import save_flame_model

    path = save_flame_model(data64, tmp_path / "m.safetensors")
    flame = FLAME.from_file(path)
    assert flame.landmark_names == ["a", "b", "c", "d"]
    torch.testing.assert_close(flame({}).vertices[0], data64.v_template.float())
