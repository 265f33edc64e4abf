"""Test helpers: small FLAME-format models and official-style pickles made from scratch.

Official FLAME pickles cannot be downloaded here, so these helpers write files with the same
layout: a dict with ``v_template``, ``shapedirs`` (a chumpy ``Ch`` holding [V, 3, 400]),
``posedirs`` [V, 3, 36], ``J_regressor`` (scipy sparse [5, V]), ``kintree_table`` [2, 5],
``weights`` [V, 5], ``f`` [F, 3] and a few extras. chumpy is not installed: a tiny fake
``chumpy.ch`` module is registered in ``sys.modules`` only while pickling.
"""

from __future__ import annotations

import contextlib
import pickle
import struct
import sys
import types
from typing import Iterator

import numpy as np
import torch

from emoctl.flame import FLAME_PARENTS, FlameModelData
from emoctl.synthetic.mesh_ops import uv_sphere


def sphere_mesh(n_lat: int = 4, n_lon: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """A closed latitude-longitude sphere (radius 0.1 m, poles on the y axis): vertices [V, 3],
    outward faces [F, 3]."""
    verts, faces, _ = uv_sphere(n_lat, n_lon)  # poles on z; (x, y, z) -> (y, z, x) keeps faces outward
    return 0.1 * verts[:, [1, 2, 0]], faces


def random_flame_arrays(seed: int = 0, n_lat: int = 4, n_lon: int = 6) -> dict[str, np.ndarray]:
    """Plain numpy arrays of a small random FLAME-layout model (float64, official key names)."""
    rng = np.random.default_rng(seed)
    verts, faces = sphere_mesh(n_lat, n_lon)
    v = len(verts)
    weights = rng.random((v, 5)) ** 3
    weights[verts[:, 1] > 0.05, 2] = 0.0  # upper vertices never follow the jaw
    weights /= weights.sum(axis=1, keepdims=True)
    j_reg = np.zeros((5, v))
    for j in range(5):
        cols = rng.choice(v, 4, replace=False)
        j_reg[j, cols] = rng.random(4) + 0.1
    j_reg /= j_reg.sum(axis=1, keepdims=True)
    return {
        "v_template": verts + 0.005 * rng.standard_normal(verts.shape),
        "shapedirs": 0.002 * rng.standard_normal((v, 3, 400)),
        "posedirs": 0.01 * rng.standard_normal((v, 3, 36)),
        "J_regressor": j_reg,
        "weights": weights,
        "f": faces,
        "J": j_reg @ verts,
    }


def model_data_from_arrays(arrays: dict[str, np.ndarray], dtype: torch.dtype = torch.float32) -> FlameModelData:
    """The :class:`FlameModelData` the arrays describe (what a loader must return)."""

    def t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.asarray(a, dtype=np.float64)).to(dtype)

    return FlameModelData(
        v_template=t(arrays["v_template"]),
        shapedirs=t(arrays["shapedirs"][:, :, :300]),
        exprdirs=t(arrays["shapedirs"][:, :, 300:]),
        posedirs=t(arrays["posedirs"]),
        J_regressor=t(arrays["J_regressor"]),
        parents=torch.tensor(FLAME_PARENTS, dtype=torch.int64),
        lbs_weights=t(arrays["weights"]),
        faces=torch.from_numpy(np.asarray(arrays["f"], dtype=np.int64)),
    )


@contextlib.contextmanager
def fake_chumpy(extra_classes: tuple[str, ...] = ()) -> Iterator[types.SimpleNamespace]:
    """Register a minimal ``chumpy`` package while pickling; removed again on exit."""
    pkg = types.ModuleType("chumpy")
    ch_mod = types.ModuleType("chumpy.ch")
    classes = {}
    for module, name in (("chumpy.ch", "Ch"),) + tuple(("chumpy.reordering", n) for n in extra_classes):
        cls = type(name, (), {})
        cls.__module__ = module
        cls.__qualname__ = name
        classes[name] = cls
    ch_mod.Ch = classes["Ch"]
    pkg.ch = ch_mod
    saved = {k: sys.modules.get(k) for k in ("chumpy", "chumpy.ch", "chumpy.reordering")}
    sys.modules["chumpy"] = pkg
    sys.modules["chumpy.ch"] = ch_mod
    if extra_classes:
        reo = types.ModuleType("chumpy.reordering")
        for n in extra_classes:
            setattr(reo, n, classes[n])
        sys.modules["chumpy.reordering"] = reo
    try:
        yield types.SimpleNamespace(**classes)
    finally:
        for k, old in saved.items():
            if old is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = old


def make_ch(cls: type, array: np.ndarray) -> object:
    """An instance laid out like a pickled ``chumpy.ch.Ch`` (state dict with the array as ``x``)."""
    obj = cls()
    obj.__dict__.update({"x": array, "_dirty_vars": set(), "_itr": None, "_make_dense": False, "_make_sparse": False})
    return obj


class Python2StylePickler(pickle._Pickler):
    """Writes ``bytes`` as Python 2 ``str`` (BINSTRING), like pickles made with Python 2."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_bytes_as_str(self, obj: bytes) -> None:
        n = len(obj)
        if n < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", n) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_bytes_as_str


def flame2020_style_pickle(arrays: dict[str, np.ndarray]) -> bytes:
    """Protocol 2, Python-2 byte strings, numpy-1 module paths (``numpy.core.multiarray``), old
    scipy paths (``scipy.sparse.csc``), chumpy ``shapedirs`` and ``v_template``, uint32 faces and
    a uint32 kintree root (4294967295)."""
    import io

    import scipy.sparse

    with fake_chumpy() as ch:
        payload = {
            "f": np.asarray(arrays["f"], dtype=np.uint32),
            "v_template": make_ch(ch.Ch, arrays["v_template"]),
            "shapedirs": make_ch(ch.Ch, arrays["shapedirs"]),
            "posedirs": arrays["posedirs"],
            "J_regressor": scipy.sparse.csc_matrix(arrays["J_regressor"]),
            "kintree_table": np.array([[4294967295, 0, 1, 1, 1], [0, 1, 2, 3, 4]], dtype=np.uint32),
            "weights": arrays["weights"],
            "J": arrays["J"],
            "bs_style": "lbs",
            "bs_type": "lrotmin",
            "weights_prior": arrays["weights"],
        }
        buf = io.BytesIO()
        Python2StylePickler(buf, protocol=2).dump(payload)
    raw = buf.getvalue()
    for new, old in ((b"numpy._core.", b"numpy.core."), (b"scipy.sparse._csc\n", b"scipy.sparse.csc\n")):
        raw = raw.replace(b"c" + new, b"c" + old)
    assert b"numpy.core.multiarray\n_reconstruct" in raw and b"scipy.sparse.csc\ncsc_matrix" in raw
    assert b"numpy._core" not in raw
    return raw


def flame2023_style_pickle(arrays: dict[str, np.ndarray], protocol: int = 4) -> bytes:
    """Python 3 pickle with numpy-2 paths (``numpy._core``), new scipy paths
    (``scipy.sparse._csr``), chumpy ``shapedirs``, int64 faces and a -1 kintree root."""
    import scipy.sparse

    with fake_chumpy() as ch:
        payload = {
            "f": np.asarray(arrays["f"], dtype=np.int64),
            "v_template": arrays["v_template"],
            "shapedirs": make_ch(ch.Ch, arrays["shapedirs"]),
            "posedirs": arrays["posedirs"],
            "J_regressor": scipy.sparse.csr_matrix(arrays["J_regressor"]),
            "kintree_table": np.array([[-1, 0, 1, 1, 1], [0, 1, 2, 3, 4]], dtype=np.int64),
            "weights": arrays["weights"],
            "J": arrays["J"],
        }
        raw = pickle.dumps(payload, protocol=protocol)
    assert b"numpy._core" in raw and b"chumpy.ch" in raw
    return raw


def numpy_rodrigues(r: np.ndarray) -> np.ndarray:
    angle = np.linalg.norm(r)
    if angle < 1e-12:
        return np.eye(3)
    k = r / angle
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * K @ K


def numpy_flame(
    data: FlameModelData, betas: np.ndarray, expr: np.ndarray, pose: np.ndarray, transl: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Reference FLAME for one frame, written from the FLAME/SMPL equations (float64 numpy).

    ``pose [15]``: global, neck, jaw, left eye, right eye (axis-angle). Returns (vertices, joints).
    """
    d = {k: v.detach().double().numpy() for k, v in data.tensors().items()}
    v_shaped = d["v_template"] + d["shapedirs"][:, :, : len(betas)] @ betas + d["exprdirs"][:, :, : len(expr)] @ expr
    joints = d["J_regressor"] @ v_shaped
    rots = [numpy_rodrigues(pose[3 * j : 3 * j + 3]) for j in range(5)]
    features = np.concatenate([(rots[j] - np.eye(3)).reshape(-1) for j in range(1, 5)])
    v_posed = v_shaped + d["posedirs"] @ features
    parents = FLAME_PARENTS
    world = []
    for j in range(5):
        local = np.eye(4)
        local[:3, :3] = rots[j]
        local[:3, 3] = joints[j] - (joints[parents[j]] if parents[j] >= 0 else 0.0)
        world.append(local if parents[j] < 0 else world[parents[j]] @ local)
    posed_joints = np.stack([w[:3, 3] for w in world])
    skin = []
    for j in range(5):
        a = world[j].copy()
        a[:3, 3] -= world[j][:3, :3] @ joints[j]
        skin.append(a)
    skin = np.stack(skin)  # [5, 4, 4]
    per_vertex = np.einsum("vj,jab->vab", d["lbs_weights"], skin)
    verts = np.einsum("vab,vb->va", per_vertex[:, :3, :3], v_posed) + per_vertex[:, :3, 3]
    return verts + transl, posed_joints + transl
