"""Midpoint subdivision of FLAME-format models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from emoctl.errors import CheckpointError, ShapeError
from emoctl.flame import FLAME, midpoint_subdivision, subdivide
from emoctl.flame.subdivide import remap_barycentric

from .flame_factories import model_data_from_arrays, random_flame_arrays


@pytest.fixture(scope="module")
def small():
    data = model_data_from_arrays(random_flame_arrays(seed=11), dtype=torch.float64)
    rng = np.random.default_rng(0)
    data.lmk_faces_idx = torch.tensor(rng.integers(0, data.num_faces, 12))
    data.lmk_bary_coords = torch.tensor(rng.dirichlet(np.ones(3), 12))
    data.regions = {"a": torch.tensor(rng.random(data.num_vertices))}
    return data


def test_counts_and_edges(small):
    sub, edges = subdivide(small, return_edges=True)
    v, f = small.num_vertices, small.num_faces
    (e,) = edges
    assert e.shape[1] == 2 and bool((e[:, 0] < e[:, 1]).all())
    assert e.shape[0] == 3 * f // 2  # closed mesh: every edge shared by two faces
    assert sub.num_vertices == v + e.shape[0] and sub.num_faces == 4 * f
    assert len({tuple(x) for x in e.tolist()}) == e.shape[0]
    mesh_edges = {tuple(sorted(p)) for tri in small.faces.tolist() for p in ((tri[0], tri[1]), (tri[1], tri[2]), (tri[2], tri[0]))}
    assert {tuple(x) for x in e.tolist()} == mesh_edges
    assert int(sub.faces.max()) == sub.num_vertices - 1


def test_attributes_kept_at_old_vertices_and_averaged_at_new(small):
    sub, (e,) = subdivide(small, return_edges=True)
    v = small.num_vertices
    for name in ("v_template", "shapedirs", "exprdirs", "posedirs", "lbs_weights"):
        old, new = getattr(small, name), getattr(sub, name)
        assert torch.equal(new[:v], old), name
        torch.testing.assert_close(new[v:], 0.5 * (old[e[:, 0]] + old[e[:, 1]]), rtol=0, atol=1e-15)
    torch.testing.assert_close(sub.regions["a"][v:], 0.5 * (small.regions["a"][e[:, 0]] + small.regions["a"][e[:, 1]]))
    assert torch.equal(sub.J_regressor[:, :v], small.J_regressor) and not sub.J_regressor[:, v:].any()
    torch.testing.assert_close(sub.lbs_weights.sum(1), torch.ones(sub.num_vertices, dtype=torch.float64))


def test_children_keep_orientation(small):
    sub = subdivide(small)
    P = sub.v_template

    def normals(faces):
        a, b, c = P[faces[:, 0]], P[faces[:, 1]], P[faces[:, 2]]
        return torch.linalg.cross(b - a, c - a)

    parent = normals(small.faces).repeat_interleave(4, dim=0)
    assert bool(((normals(sub.faces) * parent).sum(1) > 0).all())


def test_lbs_at_original_vertices_unchanged(small):
    sub = subdivide(small)
    rng = np.random.default_rng(1)
    params = {
        "betas": torch.tensor(rng.standard_normal((2, 300))),
        "expr": torch.tensor(rng.standard_normal((2, 3, 100))),
        "jaw_pose": torch.tensor(0.3 * rng.standard_normal((2, 3, 3))),
        "rotation": torch.tensor(0.3 * rng.standard_normal((2, 3, 3))),
        "neck_pose": torch.tensor(0.3 * rng.standard_normal((2, 3, 3))),
        "eyes_pose": torch.tensor(0.3 * rng.standard_normal((2, 3, 6))),
        "translation": torch.tensor(rng.standard_normal((2, 3, 3))),
    }
    a, b = FLAME(small)(params), FLAME(sub)(params)
    torch.testing.assert_close(b.vertices[..., : small.num_vertices, :], a.vertices, rtol=0, atol=1e-12)
    torch.testing.assert_close(b.joints, a.joints, rtol=0, atol=1e-12)


def test_landmarks_unchanged(small):
    sub = subdivide(small, times=2)
    rng = np.random.default_rng(2)
    params = {"betas": torch.tensor(rng.standard_normal((3, 300))), "expr": torch.tensor(rng.standard_normal((3, 100))),
              "translation": torch.tensor(rng.standard_normal((3, 3)))}  # fmt: skip
    a, b = FLAME(small)(params), FLAME(sub)(params)
    torch.testing.assert_close(b.landmarks, a.landmarks, rtol=0, atol=1e-12)
    assert bool((sub.lmk_bary_coords >= -1e-12).all())


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3).filter(lambda w: sum(w) > 1e-3))
def test_remapped_barycentrics_reproduce_the_point(w):
    bary = torch.tensor([w], dtype=torch.float64) / sum(w)
    faces = torch.tensor([[0, 1, 2]])
    P = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.1, 0.0], [0.3, 1.0, 0.2]], dtype=torch.float64)
    topo = midpoint_subdivision(faces, 3)
    P2 = topo.upsample(P)
    child, new = remap_barycentric(torch.tensor([0]), bary)
    assert 0 <= int(child) < 4
    assert bool((new >= -1e-12).all()) and abs(float(new.sum()) - 1) < 1e-12
    torch.testing.assert_close(new[0] @ P2[topo.faces[child[0]]], bary[0] @ P, rtol=0, atol=1e-12)


def test_times_zero_and_bad_arguments(small):
    same = subdivide(small, times=0)
    assert same.num_vertices == small.num_vertices and torch.equal(same.v_template, small.v_template)
    for bad in (-1, 1.5, True):
        with pytest.raises(ShapeError, match="times"):
            subdivide(small, times=bad)
    broken = small.to()
    broken.faces = small.faces + 1000
    with pytest.raises(CheckpointError, match="faces"):
        subdivide(broken)


def test_uv_seams_are_subdivided_on_the_uv_mesh(synthetic_head):
    data = synthetic_head
    sub = subdivide(data)
    uv_edges = {tuple(sorted(p)) for tri in data.faces_uv.tolist() for p in ((tri[0], tri[1]), (tri[1], tri[2]), (tri[2], tri[0]))}
    assert sub.uvs.shape[0] == data.uvs.shape[0] + len(uv_edges)
    # every child face corner's UV is the parent's corner UV or the midpoint of two parent corners
    parent_uv = data.uvs[data.faces_uv]  # [F, 3, 2]
    a, b, c = parent_uv.unbind(1)
    ab, bc, ca = 0.5 * (a + b), 0.5 * (b + c), 0.5 * (c + a)
    expected = torch.stack(
        [torch.stack(t, 1) for t in ((a, ab, ca), (ab, b, bc), (ca, bc, c), (ab, bc, ca))], 1
    ).reshape(-1, 3, 2)
    torch.testing.assert_close(sub.uvs[sub.faces_uv], expected, rtol=0, atol=1e-7)
    # the seam at the back of the head: geometric vertices with more than one UV stay so
    corner_pairs = torch.stack([sub.faces.reshape(-1), sub.faces_uv.reshape(-1)], 1).unique(dim=0)
    assert corner_pairs.shape[0] > sub.num_vertices


def test_posed_landmarks_on_vertices_survive_subdivision(synthetic_head):
    """Landmarks that sit on vertices (the synthetic head's) stay exact in any pose."""
    sub = subdivide(synthetic_head)
    params = {"jaw_pose": torch.tensor([[0.3, 0.05, 0.0]]), "neck_pose": torch.tensor([[0.1, 0.4, 0.0]]),
              "eyes_pose": torch.tensor([[0.2, 0.3, 0.0, 0.2, 0.3, 0.0]]), "expr": torch.randn(1, 100)}  # fmt: skip
    torch.testing.assert_close(FLAME(sub)(params).landmarks, FLAME(synthetic_head)(params).landmarks, rtol=0, atol=1e-6)


def test_flame_sized_mesh(synthetic_head):
    """One step on a FLAME-sized model (about 5k vertices, 10k faces, full 300 + 100 bases)."""
    data = synthetic_head
    assert 4000 < data.num_vertices < 5100 and 8000 < data.num_faces < 10100
    sub = subdivide(data)
    assert sub.num_vertices > 3.9 * data.num_vertices and sub.num_faces == 4 * data.num_faces
    assert sub.landmark_names == data.landmark_names and sub.regions.keys() == data.regions.keys()
