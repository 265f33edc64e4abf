"""The synthetic FLAME-compatible head: parameter space, anatomy, localised expressions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emoctl.errors import ShapeError
from emoctl.flame import FLAME, load_flame_model, save_flame_model
from emoctl.synthetic import EXPRESSION_REGIONS, LANDMARK_NAMES, REGION_NAMES, SEMANTIC_EXPRESSIONS, SHAPE_COMPONENTS
from emoctl.synthetic.head_model import LOWER_FACE
from emoctl.synthetic import SyntheticFLAME, make_synthetic_flame

from ..flame.flame_factories import numpy_rodrigues


def lmk(data, out, name):
    return out.landmarks[..., data.landmark_names.index(name), :]


def expr_vector(name: str, value: float = 1.0) -> torch.Tensor:
    e = torch.zeros(1, 100)
    e[0, SEMANTIC_EXPRESSIONS.index(name)] = value
    return e


def test_parameter_space(synthetic_head):
    d = synthetic_head
    v = d.num_vertices
    assert 2500 <= v <= 5000
    assert d.shapedirs.shape == (v, 3, 300) and d.exprdirs.shape == (v, 3, 100)
    assert d.posedirs.shape == (v, 3, 36) and d.J_regressor.shape == (5, v) and d.lbs_weights.shape == (v, 5)
    assert d.parents.tolist() == [-1, 0, 1, 1, 1]
    assert d.source == "synthetic"
    named = len(SEMANTIC_EXPRESSIONS)
    assert d.expression_components[:named] == list(SEMANTIC_EXPRESSIONS)
    assert d.expression_components[named:] == [f"component_{i}" for i in range(named, 100)]
    assert d.landmark_names == list(LANDMARK_NAMES)
    assert set(d.regions) == set(REGION_NAMES)
    assert d.uvs is not None and float(d.uvs.min()) >= 0 and float(d.uvs.max()) <= 1
    assert len(SHAPE_COMPONENTS) == 20 and set(EXPRESSION_REGIONS) == set(SEMANTIC_EXPRESSIONS)


def test_metric_scale_and_orientation(synthetic_head):
    d = synthetic_head
    out = FLAME(d)({})
    skin = d.regions["skin"] > 0.5
    p = d.v_template[skin]
    width = float(p[:, 0].max() - p[:, 0].min())
    assert 0.15 <= width <= 0.2
    assert float(p.abs().max()) < 0.25  # origin near the head
    nose = lmk(d, out, "nose_tip")[0]
    chin = lmk(d, out, "chin")[0]
    forehead = lmk(d, out, "forehead_center")[0]
    assert forehead[1] > nose[1] > chin[1]  # y up
    assert nose[2] > forehead[2] and nose[2] > chin[2] and nose[2] > 0.08  # looking along +z
    assert float(nose[2]) >= float(p[:, 2].max()) - 1e-6  # the nose tip is the frontmost skin point
    for name in LANDMARK_NAMES:
        if name.endswith("_l"):
            left, right = lmk(d, out, name)[0], lmk(d, out, name[:-2] + "_r")[0]
            assert left[0] > 0.005, name  # the subject's left is +x
            torch.testing.assert_close(left * torch.tensor([-1.0, 1, 1]), right, atol=1e-6, rtol=0)
    joints = out.joints[0]
    assert joints[3, 0] > 0 > joints[4, 0]  # left eye joint at +x
    assert float(joints[:3, 0].abs().max()) < 1e-6  # global, neck, jaw on the midline
    assert joints[2, 1] < joints[3, 1] and joints[0, 1] < joints[1, 1] < joints[2, 1]


def test_deterministic_and_seed_dependent():
    a, b = make_synthetic_flame(seed=3), make_synthetic_flame(seed=3)
    ta, tb = a.tensors(), b.tensors()
    assert ta.keys() == tb.keys()
    for key in ta:
        assert torch.equal(ta[key], tb[key]), key
    c = make_synthetic_flame(seed=4)
    assert torch.equal(a.faces, c.faces) and torch.equal(a.faces_uv, c.faces_uv)  # same topology
    offset = (a.v_template - c.v_template).norm(dim=1)
    assert 0.0005 < float(offset.max()) < 0.02  # different heads, only in the details
    assert not torch.equal(a.shapedirs[:, :, 50], c.shapedirs[:, :, 50])
    assert not torch.equal(a.exprdirs[:, :, 50], c.exprdirs[:, :, 50])


def test_invalid_arguments():
    for kwargs in ({"seed": -1}, {"seed": 1.5}, {"resolution": 0.1}, {"variation": 5.0}):
        with pytest.raises(ShapeError):
            SyntheticFLAME(**kwargs)


def test_save_and_load_round_trip(tmp_path, synthetic_head):
    path = save_flame_model(synthetic_head, tmp_path / "synthetic.safetensors")
    back = load_flame_model(path)
    for key, t in synthetic_head.tensors().items():
        assert torch.equal(back.tensors()[key], t), key
    assert back.landmark_names == synthetic_head.landmark_names
    assert back.expression_components == synthetic_head.expression_components
    assert back.source == "synthetic"


def test_skinning_weights(synthetic_generator, synthetic_head):
    d, mesh = synthetic_head, synthetic_generator.mesh
    w = d.lbs_weights
    torch.testing.assert_close(w.sum(1), torch.ones(d.num_vertices), atol=1e-6, rtol=0)
    eyes_l, eyes_r = d.regions["eyeballs"] > 0.5, d.regions["eyeballs"] > 0.5
    eyes_l &= d.v_template[:, 0] > 0
    eyes_r &= d.v_template[:, 0] < 0
    assert bool((w[eyes_l, 3] == 1).all()) and bool((w[eyes_r, 4] == 1).all())
    faces_of = {name: d.faces[d.lmk_faces_idx[i]] for i, name in enumerate(d.landmark_names)}
    upper = faces_of["upper_lip_center"][d.lmk_bary_coords[d.landmark_names.index("upper_lip_center")].argmax()]
    lower = faces_of["lower_lip_center"][d.lmk_bary_coords[d.landmark_names.index("lower_lip_center")].argmax()]
    assert float(w[lower, 2]) > 0.95 and float(w[upper, 2]) < 0.05  # lower lip on the jaw, upper lip not
    forehead = d.regions["forehead"] > 0.5
    assert bool((w[forehead, 1] > 0.99).all())  # the head follows the neck joint
    low_neck = d.v_template[:, 1] < -0.16
    assert bool((w[low_neck, 0] > 0.99).all())  # the bottom of the neck stays with the root
    assert mesh.num_vertices == d.num_vertices


def test_mouth_opens_when_the_jaw_rotates(synthetic_head):
    d = synthetic_head
    flame = FLAME(d)
    rest = flame({})
    gap_rest = (lmk(d, rest, "upper_lip_center") - lmk(d, rest, "lower_lip_center")).norm()
    assert float(gap_rest) < 1e-6  # lips closed at rest
    opened = flame({"jaw_pose": torch.tensor([[0.25, 0.0, 0.0]])})
    upper, lower = lmk(d, opened, "upper_lip_center")[0], lmk(d, opened, "lower_lip_center")[0]
    assert float((upper - lower).norm()) > 0.01 and lower[1] < upper[1]
    torch.testing.assert_close(upper, lmk(d, rest, "upper_lip_center")[0], atol=1e-4, rtol=0)  # the upper lip stays
    moved = (opened.vertices[0] - rest.vertices[0]).norm(dim=1)
    for region in ("forehead", "eyeballs", "scalp", "ears", "brows"):
        assert float(moved[d.regions[region] > 0.5].max()) < 1e-6, region  # only the jaw region moves
    assert float(moved[d.regions["nose"] > 0.5].max()) < 2e-4
    assert float(moved[d.regions["chin"] > 0.5].min()) > 0.01
    # the mouth interior is what shows between the lips: it sits behind them and opens with the jaw
    interior = d.regions["mouth_interior"] > 0.5
    assert float(d.v_template[interior, 2].max()) < float(lmk(d, rest, "upper_lip_center")[0, 2]) - 0.003


def test_eyeballs_follow_eyes_pose(synthetic_head):
    d = synthetic_head
    flame = FLAME(d)
    rest = flame({})
    pose = torch.tensor([[0.1, 0.35, 0.0, -0.2, 0.1, 0.05]])
    out = flame({"eyes_pose": pose})
    for side, joint, rot in (("l", 3, pose[0, :3]), ("r", 4, pose[0, 3:])):
        centre = rest.joints[0, joint].double().numpy()
        pupil = lmk(d, rest, f"eye_center_{side}")[0].double().numpy()
        expected = numpy_rodrigues(rot.double().numpy()) @ (pupil - centre) + centre
        np.testing.assert_allclose(lmk(d, out, f"eye_center_{side}")[0].numpy(), expected, atol=1e-6)
    skin = d.regions["skin"] > 0.5
    assert float((out.vertices[0, skin] - rest.vertices[0, skin]).abs().max()) < 1e-6  # only the eyes move
    eyes = d.regions["eyeballs"] > 0.5
    assert float((out.vertices[0, eyes] - rest.vertices[0, eyes]).norm(dim=1).max()) > 0.003


def test_eye_close_shuts_the_lids(synthetic_head):
    d = synthetic_head
    flame = FLAME(d)
    rest = flame({})
    shut = flame({"expr": expr_vector("eye_close")})
    for side in "lr":
        opening = (lmk(d, rest, f"upper_lid_{side}") - lmk(d, rest, f"lower_lid_{side}")).norm()
        assert 0.005 < float(opening) < 0.012
        closed = (lmk(d, shut, f"upper_lid_{side}") - lmk(d, shut, f"lower_lid_{side}")).norm()
        assert float(closed) < 1e-4
    wide = flame({"expr": expr_vector("upper_lid_raise")})
    assert float((lmk(d, wide, "upper_lid_l") - lmk(d, wide, "lower_lid_l")).norm()) > float(
        (lmk(d, rest, "upper_lid_l") - lmk(d, rest, "lower_lid_l")).norm()
    )


def test_eyeballs_sit_behind_the_lids(synthetic_head):
    d = synthetic_head
    joints = FLAME(d)({}).joints[0]
    skin = d.v_template[d.regions["skin"] > 0.5]
    for j in (3, 4):
        radius = float((d.v_template[d.lbs_weights[:, j] == 1] - joints[j]).norm(dim=1).max())
        assert 0.010 < radius < 0.015
        assert float((skin - joints[j]).norm(dim=1).min()) > radius - 0.0005  # no skin inside the eyeball


def test_semantic_expressions_are_localised(synthetic_head):
    d = synthetic_head
    far = {
        "mouth": ("brows", "forehead", "eyelids", "scalp", "ears", "neck"),
        "upper": ("lips", "chin", "jaw", "scalp", "ears", "neck"),
    }
    for i, name in enumerate(SEMANTIC_EXPRESSIONS):
        disp = d.exprdirs[:, :, i]
        energy = disp.square().sum(1)
        # in or next to its regions (a mask of 0.05 and up: the fields fall off smoothly instead of
        # being cut at the masks, which would fold the skin at real-face magnitudes; measured 0.87-1.0)
        inside = (torch.stack([d.regions[r] for r in EXPRESSION_REGIONS[name]]).max(0).values / 0.05).clamp(max=1.0)
        fraction = float((energy * inside).sum() / energy.sum())
        assert fraction > 0.8, (name, fraction)
        group = "mouth" if name in LOWER_FACE else "upper"
        if name not in ("cheek_raise", "nose_wrinkle"):
            outside = torch.stack([d.regions[r] for r in far[group]]).max(0).values
            assert float((energy * outside).sum() / energy.sum()) < 0.02, name
        peak = float(disp.norm(dim=1).max())
        assert 0.0015 < peak < 0.012, (name, peak)  # a few millimetres per unit
        assert float(disp[d.regions["skin"] < 0.5].abs().max()) == 0.0  # eyeballs/pouch follow skinning only


def test_expressions_are_left_right_symmetric(synthetic_generator, synthetic_head):
    mirror = torch.from_numpy(synthetic_generator.mesh.mirror)
    flip = torch.tensor([-1.0, 1.0, 1.0])
    torch.testing.assert_close(synthetic_head.v_template[mirror] * flip, synthetic_head.v_template, atol=1e-7, rtol=0)
    for i in range(len(SEMANTIC_EXPRESSIONS)):
        field = synthetic_head.exprdirs[:, :, i]
        torch.testing.assert_close(field[mirror] * flip, field, atol=2e-7, rtol=0)
    for i in range(len(SHAPE_COMPONENTS)):
        field = synthetic_head.shapedirs[:, :, i]
        torch.testing.assert_close(field[mirror] * flip, field, atol=2e-7, rtol=0)


def test_semantic_directions(synthetic_head):
    d = synthetic_head
    flame = FLAME(d)
    rest = flame({})
    smile = flame({"expr": expr_vector("lip_corner_pull")})
    for side, sign in (("l", 1), ("r", -1)):
        move = lmk(d, smile, f"mouth_corner_{side}")[0] - lmk(d, rest, f"mouth_corner_{side}")[0]
        assert move[1] > 0.002 and sign * move[0] > 0.001  # corners up and out
    frown = flame({"expr": expr_vector("lip_corner_depress")})
    assert float((lmk(d, frown, "mouth_corner_l") - lmk(d, rest, "mouth_corner_l"))[0, 1]) < -0.002
    for name, landmark, direction in (("brow_inner_raise", "brow_inner_l", 1), ("brow_outer_raise", "brow_outer_l", 1), ("brow_lower", "brow_inner_l", -1)):
        moved = flame({"expr": expr_vector(name)})
        dy = float((lmk(d, moved, landmark) - lmk(d, rest, landmark))[0, 1])
        assert direction * dy > 0.0015, name
    pucker = flame({"expr": expr_vector("lip_pucker")})
    width = lambda o: float((lmk(d, o, "mouth_corner_l") - lmk(d, o, "mouth_corner_r")).norm())  # noqa: E731
    assert width(pucker) < width(rest) - 0.004
    raise_upper = flame({"expr": expr_vector("upper_lip_raise")})
    gap = float((lmk(d, raise_upper, "upper_lip_center") - lmk(d, raise_upper, "lower_lip_center")).norm())
    assert gap > 0.002  # the lips part


def test_region_masks(synthetic_head):
    d = synthetic_head
    for name, mask in d.regions.items():
        assert float(mask.min()) >= 0 and float(mask.max()) <= 1 and float(mask.max()) > 0.9, name
    out = FLAME(d)({})

    def value(region, landmark):
        face = d.faces[d.lmk_faces_idx[d.landmark_names.index(landmark)]]
        return float(d.regions[region][face].max())

    for region, landmark in (("lips", "upper_lip_center"), ("lips", "lower_lip_center"), ("mouth_corners", "mouth_corner_l"),
                             ("nose", "nose_tip"), ("chin", "chin"), ("brows", "brow_inner_l"), ("eyelids", "upper_lid_r"),
                             ("cheeks", "cheek_l"), ("forehead", "forehead_center"), ("iris", "eye_center_l"),
                             ("pupil", "eye_center_r"), ("jaw", "lower_lip_center")):  # fmt: skip
        assert value(region, landmark) > 0.6, (region, landmark)
    for region, landmark in (("lips", "nose_tip"), ("brows", "chin"), ("scalp", "nose_tip"), ("neck", "forehead_center"), ("jaw", "forehead_center")):
        assert value(region, landmark) < 0.05, (region, landmark)
    skin, eyes, mouth = d.regions["skin"], d.regions["eyeballs"], d.regions["mouth_interior"]
    torch.testing.assert_close(skin + eyes + mouth, torch.ones_like(skin))
    top = out.vertices[0, :, 1].argmax()
    assert float(d.regions["scalp"][top]) == 1.0
    assert float(d.regions["neck"][out.vertices[0, :, 1].argmin()]) == 1.0
    ears = d.regions["ears"] > 0.5
    assert float(d.v_template[ears, 0].abs().min()) > 0.06  # on the sides of the head


def test_random_tails_decay(synthetic_head):
    d = synthetic_head
    e_norm = d.exprdirs.norm(dim=(0, 1))
    s_norm = d.shapedirs.norm(dim=(0, 1))
    named = len(SEMANTIC_EXPRESSIONS)
    assert float(e_norm[named : named + 14].mean()) > float(e_norm[85:].mean()) > 0
    assert float(s_norm[20:40].mean()) > float(s_norm[280:].mean()) > 0
    # no component is redundant (the smooth identity tail is near-collinear, hence the float64 check)
    assert torch.linalg.matrix_rank(d.exprdirs.reshape(-1, 100)) == 100
    assert torch.linalg.matrix_rank(d.shapedirs.reshape(-1, 300).double(), rtol=1e-5) == 300


def test_shape_components_move_joints_consistently(synthetic_head):
    d = synthetic_head
    flame = FLAME(d)
    betas = torch.zeros(1, 300)
    betas[0, SHAPE_COMPONENTS.index("eye_spacing")] = 3.0
    rest, wide = flame({}), flame({"betas": betas})
    assert float(wide.joints[0, 3, 0] - rest.joints[0, 3, 0]) > 0.003  # eyes further apart
    # the eyeballs move rigidly with the skin around them: radius unchanged
    eye = d.lbs_weights[:, 3] == 1
    r_rest = (rest.vertices[0, eye] - rest.joints[0, 3]).norm(dim=1)
    r_wide = (wide.vertices[0, eye] - wide.joints[0, 3]).norm(dim=1)
    torch.testing.assert_close(r_rest, r_wide, atol=1e-6, rtol=0)
    betas = torch.zeros(1, 300)
    betas[0, SHAPE_COMPONENTS.index("head_width")] = 1.0
    wider = flame({"betas": betas}).vertices[0, :, 0]
    assert float(wider.max() - wider.min()) > float(rest.vertices[0, :, 0].max() - rest.vertices[0, :, 0].min()) + 0.005


def test_resolution_changes_vertex_count():
    coarse = make_synthetic_flame(seed=0, resolution=0.75)
    assert coarse.num_vertices < 3500
    assert coarse.landmark_names == list(LANDMARK_NAMES)
