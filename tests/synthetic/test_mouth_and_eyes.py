"""A mouth and eyes that read: teeth and tongue in the mouth, eye and lip proportions, contrast that
survives a small grey crop (world v2, readable-faces facts)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emoctl.flame import FLAME
from emoctl.synthetic import SEMANTIC_EXPRESSIONS, GaussianHead, sample_betas, sample_traits, still_articulation
from emoctl.synthetic.cameras import camera_rig
from emoctl.synthetic.head_model.interior import PIECE_CAVITY, PIECE_LOWER_TEETH, PIECE_TONGUE, PIECE_UPPER_TEETH
from emoctl.synthetic.head_model.surface import lip_relief, skin_points

DARK, LIGHT = 3, 28  # identity seeds: skin tone 0.81 (19 years), 0.12 (28 years)


def landmark(data, out, name: str) -> np.ndarray:
    return out.landmarks[0, data.landmark_names.index(name)].double().numpy()


@pytest.fixture(scope="module")
def avatar(head):
    return GaussianHead(head)


@pytest.fixture(scope="module")
def smile(model):
    """A happy face, still and silent, and the same with the jaw dropped (parted lips)."""
    happy = model.apply(still_articulation(1), "happy")
    return happy, {**happy, "jaw_pose": happy["jaw_pose"] + torch.tensor([[0.12, 0.0, 0.0]])}


def project(rig, point: np.ndarray) -> np.ndarray:
    w2c = torch.linalg.inv(rig.c2w[0].double()).numpy()
    q = w2c[:3, :3] @ point + w2c[:3, 3]
    uv = rig.K[0].double().numpy() @ q
    return uv[:2] / uv[2]


def teeth_pixels(head, model, avatar, sequence, seed: int, rig) -> tuple[np.ndarray, np.ndarray]:
    """``(teeth-like mask, box)`` in the box from corner to corner and from the upper to the lower
    lip (2 px margin): pixels brighter than the lips' albedo whose chromaticity is within 0.05 of
    the teeth's and nearer to it than to the lips'."""
    albedo = model.albedo(sample_traits(seed))
    image = avatar.render(sequence, None, albedo, rig)[0, 0].astype(float)
    out = FLAME(head)(sequence)
    (x0, _), (x1, _) = (project(rig, landmark(head, out, f"mouth_corner_{s}")) for s in "rl")
    (_, y0), (_, y1) = (project(rig, landmark(head, out, f"{s}_lip_center")) for s in ("upper", "lower"))
    box = image[int(y0) - 2 : int(np.ceil(y1)) + 3, int(x0) : int(np.ceil(x1)) + 1]
    teeth = albedo[head.regions["teeth"] >= 0.99].mean(0).numpy() * 255
    lips = albedo[head.regions["vermilion"] > 0.9].mean(0).numpy() * 255

    def chroma(rgb: np.ndarray) -> np.ndarray:
        return rgb / np.maximum(rgb.sum(-1, keepdims=True), 1.0)

    to_teeth = np.linalg.norm(chroma(box) - chroma(teeth), axis=-1)
    to_lips = np.linalg.norm(chroma(box) - chroma(lips), axis=-1)
    return (to_teeth < 0.05) & (to_teeth < to_lips) & (box.mean(-1) > lips.mean()), box


def test_teeth_show_between_parted_lips_and_hide_behind_closed_ones(head, model, avatar, smile):
    rig = camera_rig([0.0], None, 128, distance=0.3, target=(0.0, -0.02, 0.05))
    closed, parted = smile
    neutral = model.apply(still_articulation(1), "neutral")
    for seed in (DARK, LIGHT):
        shown, box = teeth_pixels(head, model, avatar, parted, seed, rig)
        # a bright band of teeth: measured 98 (dark skin) and 48 (light) pixels over about a third of the mouth's width
        assert int(shown.sum()) >= 25, seed
        assert shown.any(axis=0).sum() >= 0.25 * box.shape[1], seed
        for sequence in (closed, neutral):
            hidden, _ = teeth_pixels(head, model, avatar, sequence, seed, rig)
            assert int(hidden.sum()) == 0, seed


def test_closed_lips_hide_the_mouth_interior_from_every_side(head, model, avatar):
    """Nothing of the teeth, tongue or cavity shows through closed lips, from the front or the sides.

    The skin's Gaussians let a few per cent through between their centres, and Gaussians are
    composited in the order of their centres' depth, so large ones close behind the skin would
    tint it (measured 30 levels before the cavity and tongue were drawn in): recolouring the
    whole interior pure green changes pixels by at most 7 levels (measured), and the real
    interior against one coloured like the cheeks by at most 4."""
    neutral = model.apply(still_articulation(1), "neutral")
    rig = camera_rig([0.0, 30.0, -40.0], [0.0, 10.0, -10.0], 128, distance=0.3, target=(0.0, -0.02, 0.04))
    inside = head.regions["mouth_interior"] > 0
    for seed in (DARK, LIGHT):
        albedo = model.albedo(sample_traits(seed))
        green, skin = albedo.clone(), albedo.clone()
        green[inside] = torch.tensor([0.0, 1.0, 0.0])
        skin[inside] = albedo[head.regions["cheeks"] > 0.5].mean(0)
        real, greened, skinned = (avatar.render(neutral, None, x, rig).astype(int) for x in (albedo, green, skin))
        assert int(np.abs(real - greened).max()) <= 10 and int(np.abs(real - skinned).max()) <= 6, seed


def test_teeth_and_tongue_ride_on_the_head_and_the_jaw(synthetic_generator, synthetic_head):
    d, mesh = synthetic_head, synthetic_generator.mesh
    W = d.lbs_weights
    upper, lower, tongue = (torch.from_numpy(mesh.piece == k) for k in (PIECE_UPPER_TEETH, PIECE_LOWER_TEETH, PIECE_TONGUE))
    assert int(upper.sum()) > 30 and int(lower.sum()) > 30 and int(tongue.sum()) > 10
    assert bool((W[upper, 1] == 1).all())  # the upper teeth: the head (neck joint)
    assert bool((W[lower | tongue, 2] == 1).all())  # the lower teeth and the tongue: the jaw
    flame = FLAME(d)
    rest, opened = flame({}), flame({"jaw_pose": torch.tensor([[0.2, 0.0, 0.0]])})
    moved = (opened.vertices[0] - rest.vertices[0]).norm(dim=1)
    assert float(moved[upper].max()) == 0.0 and float(moved[lower].min()) > 0.005
    # the lower teeth keep their place behind the lower lip (they turn together)
    front = int(np.where(mesh.piece == PIECE_LOWER_TEETH)[0][np.argmax(mesh.points[mesh.piece == PIECE_LOWER_TEETH, 2])])
    gap = [np.linalg.norm(out.vertices[0, front].double().numpy() - landmark(d, out, "lower_lip_center")) for out in (rest, opened)]
    assert abs(gap[0] - gap[1]) < 0.0002


def test_mouth_interior_sits_inside_the_head(synthetic_generator, synthetic_head):
    mesh, L = synthetic_generator.mesh, synthetic_generator.mesh.layout
    inner = np.where(np.isin(mesh.piece, (PIECE_CAVITY, PIECE_UPPER_TEETH, PIECE_LOWER_TEETH, PIECE_TONGUE)))[0]
    v = mesh.points[inner] - L.origin
    r = np.linalg.norm(v, axis=1)
    theta, phi = np.arccos(v[:, 1] / r), np.arctan2(v[:, 0], v[:, 2])
    skin_r = np.linalg.norm(skin_points(theta, phi, L, mesh.frame).points - L.origin, axis=1)
    assert float((skin_r - r).min()) > 0.002  # at least 2 mm behind the skin along every ray (measured 2.5)
    # for any identity the mouth interior stays behind the lips and the upper incisors below the lip line
    flame = FLAME(synthetic_head)
    for seed in range(4):
        out = flame({"betas": sample_betas(seed)[None]})
        upper_lip = landmark(synthetic_head, out, "upper_lip_center")
        pts = out.vertices[0].double().numpy()
        assert pts[inner, 2].max() < upper_lip[2] - 0.002
        edge = pts[mesh.piece == PIECE_UPPER_TEETH, 1].min()
        assert 0.001 < upper_lip[1] - edge < 0.006


def vertical_crossings(mesh, mask: np.ndarray, line_y: float) -> tuple[float, float]:
    """Heights (interpolated 0.5 crossings of ``mask`` along the front midline) above and below ``line_y``."""
    mid = np.where((mesh.col == 0) & (mesh.points[:, 2] > 0.05))[0]
    mid = mid[np.argsort(mesh.points[mid, 1])]
    y, m = mesh.points[mid, 1], mask[mid]
    out = []
    for side in (1, -1):
        sel = side * (y - line_y) >= -1e-9
        ys, ms = y[sel], m[sel]
        order = np.argsort(side * (ys - line_y))
        ys, ms = ys[order], ms[order]
        k = int(np.argmax(ms < 0.5))
        t = (ms[k - 1] - 0.5) / (ms[k - 1] - ms[k])
        out.append(abs(ys[k - 1] + t * (ys[k] - ys[k - 1]) - line_y))
    return out[0], out[1]


def test_eye_proportions(synthetic_generator, synthetic_head):
    """Fissure ~30 x 10 mm, a 12 mm iris whose top 1-2 mm the upper lid covers, sclera either side."""
    d, mesh = synthetic_head, synthetic_generator.mesh
    flame = FLAME(d)
    rest = flame({})
    j_in, _, j_out = mesh.eye_cols
    inner, outer = (mesh.points[mesh.grid_index[mesh.eye_row, j]] for j in (j_in, j_out))
    assert 0.027 < np.linalg.norm(outer - inner) < 0.034  # measured 32.5 mm (28.3 mm wide seen from the front)
    pupil = landmark(d, rest, "eye_center_l")
    upper, lower = landmark(d, rest, "upper_lid_l"), landmark(d, rest, "lower_lid_l")
    assert 0.009 < upper[1] - lower[1] < 0.011
    eye = np.where(d.lbs_weights[:, 3].numpy() == 1)[0]
    polar = mesh.sphere_polar[eye]
    iris = d.regions["iris"].numpy()[eye]
    rings = np.unique(polar)
    per_ring = np.array([iris[polar == p].mean() for p in rings])
    k = int(np.argmax(per_ring < 0.5))
    edge = rings[k - 1] + (per_ring[k - 1] - 0.5) / (per_ring[k - 1] - per_ring[k]) * (rings[k] - rings[k - 1])
    radius = float(np.linalg.norm(mesh.points[eye] - mesh.frame.eye_centers[0], axis=1).mean())
    iris_r = radius * np.sin(edge)
    assert 0.0055 < iris_r < 0.0065
    assert 0.001 <= pupil[1] + iris_r - upper[1] <= 0.002  # the upper lid covers the iris's top 1-2 mm
    assert abs(pupil[1] - iris_r - lower[1]) < 0.001  # the lower lid at the iris's lower edge
    assert min(pupil[0] - iris_r - inner[0], outer[0] - pupil[0] - iris_r) > 0.006  # white either side
    assert 0.060 < 2 * pupil[0] < 0.067  # interpupillary distance
    raised = np.zeros((1, 100), dtype=np.float32)
    raised[0, SEMANTIC_EXPRESSIONS.index("upper_lid_raise")] = 1.0
    wide = flame({"expr": torch.from_numpy(raised)})
    assert landmark(d, wide, "upper_lid_l")[1] > pupil[1] + iris_r  # sclera above the iris only when raised


def test_lip_proportions(synthetic_generator, synthetic_head):
    """Mouth ~50 mm wide; the red of the lips 8-10 mm tall in all, thinner at the corners, which
    the lips' relief leaves visible."""
    d, mesh = synthetic_head, synthetic_generator.mesh
    rest = FLAME(d)({})
    width = np.linalg.norm(landmark(d, rest, "mouth_corner_l") - landmark(d, rest, "mouth_corner_r"))
    assert 0.046 < width < 0.054  # measured 48.2 mm
    line_y = landmark(d, rest, "upper_lip_center")[1]
    up, down = vertical_crossings(mesh, d.regions["vermilion"].numpy(), line_y)
    assert 0.0035 < up < 0.0055 and 0.004 < down < 0.006 and 0.008 <= up + down <= 0.0105
    rows = np.linspace(-0.01, 0.01, 201)
    relief = [lip_relief(rows, np.full_like(rows, u), np.zeros_like(rows) + 0.01, mesh.layout).max() for u in (0.0, 0.9, 1.0)]
    assert 0.002 < relief[0] < 0.0035 and relief[1] < 0.3 * relief[0] and relief[2] < 0.0001


def test_features_survive_a_grey_64_pixel_crop(head, model, avatar, smile):
    """Teeth and sclera stand out in a 64 x 64 grey crop of the face, on dark and light skin."""
    rig = camera_rig([0.0], None, 64, distance=0.3, target=(0.0, -0.005, 0.05))
    _, parted = smile
    out = FLAME(head)(parted)
    at = {n: project(rig, landmark(head, out, n)) for n in ("mouth_corner_l", "mouth_corner_r", "upper_lip_center", "lower_lip_center",
                                                            "eye_center_l", "brow_inner_l", "brow_outer_l", "cheek_l")}  # fmt: skip
    for seed in (DARK, LIGHT):
        grey = avatar.render(parted, None, model.albedo(sample_traits(seed)), rig)[0, 0].astype(float).mean(-1)

        mouth = grey[int(at["upper_lip_center"][1]) : int(np.ceil(at["lower_lip_center"][1])) + 1,
                     int(at["mouth_corner_r"][0]) : int(np.ceil(at["mouth_corner_l"][0])) + 1]  # fmt: skip
        x, y = np.round(at["eye_center_l"]).astype(int)
        eye = grey[y - 1 : y + 2, x - 6 : x + 7]
        # measured: mouth 42-167 (dark) / 112-183 (light), eye 23-88 / 42-186
        assert mouth.max() - mouth.min() > 60 and eye.max() - eye.min() > 50, seed
        # brows darker than the cheek (emotion_model's BROW_CONTRAST): mean over the brow's span
        # measured: brow 40 vs cheek 71 (dark skin), 107 vs 187 (light)
        bx0, by0 = np.round(at["brow_inner_l"]).astype(int)
        bx1, by1 = np.round(at["brow_outer_l"]).astype(int)
        brow = min(grey[(by0 + by1) // 2 - 1 : (by0 + by1) // 2 + 2, min(bx0, bx1) : max(bx0, bx1) + 1].mean(),
                   grey[by0 - 1 : by0 + 2, bx0 - 1 : bx0 + 2].mean())
        cx, cy = np.round(at["cheek_l"]).astype(int)
        cheek = grey[cy - 1 : cy + 2, cx - 1 : cx + 2].mean()
        assert brow < cheek - 10, (seed, brow, cheek)
