"""Loading official-style FLAME pickles, the converted format, landmarks, and their errors."""

from __future__ import annotations

import dataclasses
import json
import pickle

import numpy as np
import pytest
import torch

from emoctl.errors import CheckpointError
from emoctl.flame import FlameModelData, convert, load_flame_model, load_landmark_embedding, save_flame_model

from .flame_factories import (
    flame2020_style_pickle,
    flame2023_style_pickle,
    model_data_from_arrays,
    random_flame_arrays,
)


def assert_same_model(a: FlameModelData, b: FlameModelData) -> None:
    ta, tb = a.tensors(), b.tensors()
    assert ta.keys() == tb.keys()
    for key in ta:
        assert ta[key].dtype == tb[key].dtype, key
        assert torch.equal(ta[key], tb[key]), key
    assert a.landmark_names == b.landmark_names
    assert a.expression_components == b.expression_components
    assert a.source == b.source


@pytest.fixture(scope="module")
def arrays():
    return random_flame_arrays(seed=3)


@pytest.fixture()
def pkl2020(tmp_path, arrays):
    path = tmp_path / "generic_model.pkl"
    path.write_bytes(flame2020_style_pickle(arrays))
    return path


@pytest.fixture()
def pkl2023(tmp_path, arrays):
    path = tmp_path / "flame2023.pkl"
    path.write_bytes(flame2023_style_pickle(arrays))
    return path


def test_flame2020_style_pickle_loads(pkl2020, arrays):
    data = load_flame_model(pkl2020)
    assert data.source == "FLAME2020"
    assert_same_model(dataclasses.replace(data, source="x"), dataclasses.replace(model_data_from_arrays(arrays), source="x"))
    assert data.parents.tolist() == [-1, 0, 1, 1, 1]
    assert data.shapedirs.shape == (26, 3, 300) and data.exprdirs.shape == (26, 3, 100)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_flame2023_style_pickle_loads(tmp_path, arrays, protocol):
    path = tmp_path / "flame2023_no_jaw.pkl"
    path.write_bytes(flame2023_style_pickle(arrays, protocol=protocol))
    data = load_flame_model(path)
    assert data.source == "FLAME2023"
    expected = dataclasses.replace(model_data_from_arrays(arrays), source="FLAME2023")
    assert_same_model(data, expected)


def test_source_override_and_content_sniffing(tmp_path, arrays):
    path = tmp_path / "model.bin"  # no telling suffix: recognised from the content
    path.write_bytes(flame2023_style_pickle(arrays))
    assert load_flame_model(path, source="FLAME2023").source == "FLAME2023"


def test_convert_then_load_is_bit_exact(tmp_path, pkl2020):
    out = convert(pkl2020, tmp_path / "flame.safetensors")
    assert out == tmp_path / "flame.safetensors"
    assert_same_model(load_flame_model(out), load_flame_model(pkl2020))
    assert out.read_bytes()[8:9] == b"{"  # safetensors, not pickle


def test_converted_file_never_touches_pickle(tmp_path, pkl2020, monkeypatch):
    out = convert(pkl2020, tmp_path / "flame.safetensors")

    def boom(*args, **kwargs):
        raise AssertionError("pickle used while loading a converted file")

    import emoctl.flame.io as flame_io
    import emoctl.flame.safe_pickle as safe_pickle

    monkeypatch.setattr(pickle, "Unpickler", boom)
    monkeypatch.setattr(pickle, "load", boom)
    monkeypatch.setattr(pickle, "loads", boom)
    monkeypatch.setattr(safe_pickle.RestrictedUnpickler, "load", boom)
    monkeypatch.setattr(flame_io, "_load_any_dict", boom)
    monkeypatch.setattr(flame_io, "restricted_load", boom)
    assert load_flame_model(out).num_vertices == 26


def test_convert_with_landmarks(tmp_path, pkl2020, arrays):
    faces = len(arrays["f"])
    rng = np.random.default_rng(0)
    idx = rng.integers(0, faces, 68)
    bary = rng.dirichlet(np.ones(3), 68)
    lmk = tmp_path / "landmark_embedding.npy"
    np.save(lmk, {"full_lmk_faces_idx": idx[None], "full_lmk_bary_coords": bary[None], "static_lmk_faces_idx": idx[17:]}, allow_pickle=True)
    out = convert(pkl2020, tmp_path / "with_lmk.safetensors", landmark_path=lmk)
    data = load_flame_model(out)
    assert data.lmk_faces_idx.tolist() == idx.tolist()
    torch.testing.assert_close(data.lmk_bary_coords, torch.tensor(bary, dtype=torch.float32))
    assert data.landmark_names[0] == "lmk68_00" and len(data.landmark_names) == 68


def test_landmark_formats(tmp_path):
    rng = np.random.default_rng(1)
    idx = rng.integers(0, 40, 51).astype(np.uint32)
    bary = rng.dirichlet(np.ones(3), 51)
    static = tmp_path / "flame_static_embedding.pkl"
    static.write_bytes(pickle.dumps({"lmk_face_idx": idx, "lmk_b_coords": bary}, protocol=2))
    i, b, names = load_landmark_embedding(static, num_faces=40)
    assert i.dtype == torch.int64 and i.tolist() == idx.tolist()
    assert names[0] == "lmk68_17" and names[-1] == "lmk68_67"
    mp = tmp_path / "mediapipe_landmark_embedding.npz"
    np.savez(mp, lmk_face_idx=idx[:5], lmk_b_coords=bary[:5], landmark_indices=np.array([1, 33, 61, 199, 263]))
    i, b, names = load_landmark_embedding(mp)
    assert names == ["mediapipe_1", "mediapipe_33", "mediapipe_61", "mediapipe_199", "mediapipe_263"]
    torch.testing.assert_close(b, torch.tensor(bary[:5], dtype=torch.float32))
    plain = tmp_path / "plain.npz"
    np.savez(plain, lmk_faces_idx=idx[:3], lmk_bary_coords=bary[:3])
    assert load_landmark_embedding(plain)[2] == ["lmk_000", "lmk_001", "lmk_002"]


def test_landmark_errors(tmp_path):
    dyn = tmp_path / "flame_dynamic_embedding.npy"
    np.save(dyn, {"lmk_face_idx": np.zeros((79, 17), np.int64), "lmk_b_coords": np.zeros((79, 17, 3))}, allow_pickle=True)
    with pytest.raises(CheckpointError, match="dynamic contour"):
        load_landmark_embedding(dyn)
    bad = tmp_path / "bad.npz"
    np.savez(bad, lmk_faces_idx=np.array([0, 99]), lmk_bary_coords=np.full((2, 3), 1 / 3))
    with pytest.raises(CheckpointError, match="up to 99"):
        load_landmark_embedding(bad, num_faces=10)
    other = tmp_path / "other.npz"
    np.savez(other, something=np.zeros(3))
    with pytest.raises(CheckpointError, match="not a landmark embedding"):
        load_landmark_embedding(other)


def test_malicious_landmark_npy_is_refused(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (eval, (f"__import__('pathlib').Path({str(marker)!r}).touch()",))

    path = tmp_path / "landmark_embedding.npy"
    np.save(path, {"full_lmk_faces_idx": Evil()}, allow_pickle=True)
    with pytest.raises(CheckpointError, match="eval"):
        load_landmark_embedding(path)
    assert not marker.exists()


def test_malicious_model_pickle_is_refused(tmp_path, arrays):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    payload = dict(arrays)
    payload["bs_style"] = Evil()
    path = tmp_path / "generic_model.pkl"
    path.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(CheckpointError, match="system"):
        load_flame_model(path)
    with pytest.raises(CheckpointError):
        convert(path, tmp_path / "out.safetensors")
    assert not marker.exists()
    assert not (tmp_path / "out.safetensors").exists()


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.99])
def test_truncated_pickle(tmp_path, pkl2020, fraction):
    raw = pkl2020.read_bytes()
    pkl2020.write_bytes(raw[: int(len(raw) * fraction)])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_flame_model(pkl2020)


@pytest.mark.parametrize("fraction", [0.02, 0.5, 0.99])
def test_truncated_safetensors(tmp_path, pkl2020, fraction):
    out = convert(pkl2020, tmp_path / "flame.safetensors")
    raw = out.read_bytes()
    out.write_bytes(raw[: int(len(raw) * fraction)])
    with pytest.raises(CheckpointError):
        load_flame_model(out)


def test_missing_file_and_not_a_dict(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_flame_model(tmp_path / "nope.pkl")
    path = tmp_path / "list.pkl"
    path.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(CheckpointError, match="not a dict"):
        load_flame_model(path)


@pytest.mark.parametrize("drop", ["shapedirs", "J_regressor", "f", "kintree_table"])
def test_pickle_missing_key_is_named(tmp_path, arrays, drop):
    payload = {k: v for k, v in arrays.items() if k != drop}
    payload["kintree_table"] = np.array([[-1, 0, 1, 1, 1], [0, 1, 2, 3, 4]])
    if drop == "kintree_table":
        del payload["kintree_table"]
    path = tmp_path / "m.pkl"
    path.write_bytes(pickle.dumps(payload))
    with pytest.raises(CheckpointError, match=repr(drop)):
        load_flame_model(path)


def test_pickle_with_wrong_kintree_or_shapes(tmp_path, arrays):
    payload = dict(arrays, kintree_table=np.array([[-1, 0, 0, 1, 1], [0, 1, 2, 3, 4]]))
    path = tmp_path / "m.pkl"
    path.write_bytes(pickle.dumps(payload))
    with pytest.raises(CheckpointError, match="parents"):
        load_flame_model(path)
    payload = dict(arrays, kintree_table=np.array([[-1, 0, 1, 1, 1], [0, 1, 2, 3, 4]]), shapedirs=arrays["shapedirs"][:, :, :350])
    path.write_bytes(pickle.dumps(payload))
    with pytest.raises(CheckpointError, match="350 components"):
        load_flame_model(path)


def _save_raw(path, tensors, metadata):
    from safetensors.torch import save_file

    save_file(tensors, str(path), metadata=metadata)


@pytest.mark.parametrize(
    "mutate, key",
    [
        (lambda t: t.update(lbs_weights=t["lbs_weights"] * 1.5), "lbs_weights"),
        (lambda t: t.update(faces=t["faces"] + 1000), "faces"),
        (lambda t: t.update(parents=torch.tensor([-1, 0, 0, 1, 1])), "parents"),
        (lambda t: t.update(posedirs=t["posedirs"][:, :, :27].contiguous()), "posedirs"),
        (lambda t: t.update(J_regressor=t["J_regressor"][:4].contiguous()), "J_regressor"),
        (lambda t: t.update(exprdirs=t["exprdirs"][:-1].contiguous()), "exprdirs"),
        (lambda t: t.pop("shapedirs"), "shapedirs"),
        (lambda t: t.update(v_template=t["v_template"].clone().fill_(float("nan"))), "v_template"),
        (lambda t: t.update(faces=t["faces"].to(torch.int32)), "faces"),
        (lambda t: t.update({"region.lips": torch.full((t["v_template"].shape[0],), 2.0)}), "region.lips"),
        (lambda t: t.update(uvs=torch.zeros(4, 2)), "faces_uv"),
        (lambda t: t.update(mystery=torch.zeros(1)), "mystery"),
    ],
)
def test_converted_file_validation_names_the_bad_key(tmp_path, arrays, mutate, key):
    tensors = {k: v.contiguous() for k, v in model_data_from_arrays(arrays).tensors().items()}
    mutate(tensors)
    path = tmp_path / "bad.safetensors"
    _save_raw(path, tensors, {"format": "emoctl-flame", "format_version": "1", "source": "FLAME2020"})
    with pytest.raises(CheckpointError, match=repr(key)):
        load_flame_model(path)


def test_converted_file_metadata_checks(tmp_path, arrays):
    tensors = {k: v.contiguous() for k, v in model_data_from_arrays(arrays).tensors().items()}
    path = tmp_path / "m.safetensors"
    _save_raw(path, tensors, {"format": "something-else", "format_version": "1"})
    with pytest.raises(CheckpointError, match="format"):
        load_flame_model(path)
    _save_raw(path, tensors, {"format": "emoctl-flame", "format_version": "2"})
    with pytest.raises(CheckpointError, match="format_version"):
        load_flame_model(path)
    _save_raw(path, tensors, {"format": "emoctl-flame", "format_version": "1", "expression_components": "not json"})
    with pytest.raises(CheckpointError, match="expression_components"):
        load_flame_model(path)
    _save_raw(path, tensors, {"format": "emoctl-flame", "format_version": "1", "expression_components": json.dumps(["a"])})
    with pytest.raises(CheckpointError, match="expression_components"):
        load_flame_model(path)


def test_save_is_atomic_and_refuses_invalid_data(tmp_path, arrays):
    data = model_data_from_arrays(arrays)
    path = save_flame_model(data, tmp_path / "sub" / "m.safetensors")
    before = path.read_bytes()
    bad = dataclasses.replace(data, lbs_weights=data.lbs_weights * 2)
    with pytest.raises(CheckpointError, match="lbs_weights"):
        save_flame_model(bad, path)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["m.safetensors"]  # no temporary files left


def test_save_stores_float32_and_metadata(tmp_path, arrays):
    data = model_data_from_arrays(arrays, dtype=torch.float64)
    data.expression_components = [f"e{i}" for i in range(100)]
    data.source = "FLAME2023"
    loaded = load_flame_model(save_flame_model(data, tmp_path / "m.safetensors"))
    assert loaded.v_template.dtype == torch.float32
    assert loaded.expression_components == data.expression_components and loaded.source == "FLAME2023"
    torch.testing.assert_close(loaded.shapedirs, data.shapedirs.float())


def test_model_data_to_keeps_index_dtypes(arrays):
    data = model_data_from_arrays(arrays).to(dtype=torch.float64)
    assert data.v_template.dtype == torch.float64 and data.faces.dtype == torch.int64 and data.parents.dtype == torch.int64
    assert data.num_vertices == 26


def test_npz_model_with_sparse_member(tmp_path, arrays):
    import scipy.sparse

    payload = dict(arrays, kintree_table=np.array([[-1, 0, 1, 1, 1], [0, 1, 2, 3, 4]]))
    payload["J_regressor"] = scipy.sparse.csc_matrix(arrays["J_regressor"])  # stored as a pickled object member
    path = tmp_path / "generic_model.npz"
    np.savez(path, **payload)
    data = load_flame_model(path)
    expected = model_data_from_arrays(arrays)
    torch.testing.assert_close(data.J_regressor, expected.J_regressor, rtol=0, atol=0)
    torch.testing.assert_close(data.shapedirs, expected.shapedirs, rtol=0, atol=0)


def test_malicious_npz_member_is_refused(tmp_path, arrays):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (exec, (f"open({str(marker)!r}, 'w').close()",))

    payload = dict(arrays, kintree_table=np.array([[-1, 0, 1, 1, 1], [0, 1, 2, 3, 4]]))
    payload["weights"] = np.array(Evil(), dtype=object)
    path = tmp_path / "model.npz"
    np.savez(path, **payload)
    with pytest.raises(CheckpointError, match="exec"):
        load_flame_model(path)
    assert not marker.exists()


def test_npy_that_is_not_a_dict(tmp_path):
    path = tmp_path / "landmarks.npy"
    np.save(path, np.zeros((3, 3)))
    with pytest.raises(CheckpointError, match="not a dict"):
        load_landmark_embedding(path)
    path.write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(CheckpointError, match="npy"):
        load_landmark_embedding(path)
