"""The restricted unpickler: arrays in, code refused before it runs."""

from __future__ import annotations

import builtins
import collections
import io
import os
import pickle
import subprocess

import numpy as np
import pytest

from emoctl.errors import CheckpointError
from emoctl.flame.safe_pickle import restricted_loads

from .flame_factories import Python2StylePickler, fake_chumpy, make_ch


class _SystemCall:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _EvalCall:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (builtins.eval, (f"__import__('pathlib').Path({str(self.marker)!r}).touch()",))


class _PopenCall:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (subprocess.Popen, (["touch", str(self.marker)],))


@pytest.mark.parametrize("payload_cls", [_SystemCall, _EvalCall, _PopenCall])
@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_malicious_pickle_is_refused_before_it_runs(tmp_path, payload_cls, protocol):
    marker = tmp_path / "pwned"
    evil = payload_cls(marker)
    expected_global = {
        _SystemCall: f"{os.system.__module__}.system",
        _EvalCall: "eval",
        _PopenCall: "subprocess.Popen",
    }[payload_cls]
    # hidden inside an otherwise FLAME-looking dict, after harmless arrays
    raw = pickle.dumps({"v_template": np.zeros((3, 3)), "f": evil}, protocol=protocol)
    assert expected_global.split(".")[-1].encode() in raw  # the payload is in the file (see the next test)
    with pytest.raises(CheckpointError) as info:
        restricted_loads(raw, origin="evil.pkl")
    assert not marker.exists(), "the pickled callable ran"
    assert expected_global in str(info.value)
    assert "evil.pkl" in str(info.value)


def test_live_payload_really_would_run(tmp_path):
    """The malicious payloads above are real: an unrestricted unpickler runs them."""
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(_EvalCall(marker)))
    assert marker.exists()


def test_refusal_names_module_and_global():
    raw = pickle.dumps(collections.Counter("ab"))
    with pytest.raises(CheckpointError, match=r"'collections\.Counter'"):
        restricted_loads(raw)


def test_numpy_functions_outside_the_allow_list_are_refused():
    # a real numpy function, but not a reconstruction one (np.load could open arbitrary files)
    raw = b"\x80\x02cnumpy\nload\nq\x00X\x05\x00\x00\x00x.npyq\x01\x85q\x02Rq\x03."
    with pytest.raises(CheckpointError, match=r"'numpy\.load'"):
        restricted_loads(raw)


def test_codecs_encode_only_latin1():
    raw = b"\x80\x02c_codecs\nencode\nq\x00X\x03\x00\x00\x00abcq\x01X\x06\x00\x00\x00rot_13q\x02\x86q\x03Rq\x04."
    with pytest.raises(CheckpointError, match="latin-1"):
        restricted_loads(raw)


def test_reconstructor_only_for_placeholders():
    # copy_reg._reconstructor(collections.OrderedDict, object, None): an allowed class, but not a placeholder
    raw = b"ccopy_reg\n_reconstructor\n(ccollections\nOrderedDict\nc__builtin__\nobject\nNtR."
    with pytest.raises(CheckpointError, match="_reconstructor"):
        restricted_loads(raw)


def test_numpy_reconstruct_rejects_other_subtypes():
    raw = b"cnumpy.core.multiarray\n_reconstruct\n(ccollections\nOrderedDict\n(I0\ntS'b'\ntR."
    with pytest.raises(CheckpointError, match="numpy reconstruction"):
        restricted_loads(raw)


@pytest.mark.parametrize("protocol", [0, 1, 2, 3, 4, 5])
def test_arrays_scalars_and_containers_round_trip(protocol):
    value = {
        "a": np.arange(12, dtype=np.float32).reshape(3, 4),
        "b": np.array([[1, 2], [3, 4]], dtype=np.uint32, order="F"),
        "s": np.float64(2.5),
        "i": np.int64(-3),
        "t": (1, "x", None),
        "l": [np.zeros(2), {"k": True}],
        "set": {1, 2},
        "bytes": b"\x00\xff",
        "od": collections.OrderedDict(z=1),
    }
    out = restricted_loads(pickle.dumps(value, protocol=protocol))
    assert out.keys() == value.keys()
    np.testing.assert_array_equal(out["a"], value["a"])
    assert out["a"].dtype == np.float32
    np.testing.assert_array_equal(out["b"], value["b"])
    assert out["s"] == 2.5 and out["i"] == -3
    assert out["t"] == (1, "x", None) and out["set"] == {1, 2} and out["bytes"] == b"\x00\xff"
    assert out["od"] == {"z": 1}


def test_python2_byte_strings_and_numpy1_paths():
    arr = np.linspace(0, 1, 300).reshape(100, 3)
    buf = io.BytesIO()
    Python2StylePickler(buf, protocol=2).dump({"a": arr})
    raw = buf.getvalue().replace(b"cnumpy._core.", b"cnumpy.core.")
    assert b"numpy.core.multiarray\n_reconstruct" in raw and b"_codecs" not in raw
    np.testing.assert_array_equal(restricted_loads(raw)["a"], arr)


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_chumpy_arrays_become_numpy_without_chumpy(protocol):
    arr = np.random.default_rng(0).standard_normal((5, 3, 4))
    with fake_chumpy() as ch:
        raw = pickle.dumps({"shapedirs": make_ch(ch.Ch, arr), "nested": [make_ch(ch.Ch, arr[0])]}, protocol=protocol)
    with pytest.raises(ImportError):
        import chumpy  # noqa: F401  (the loader must not need it)
    out = restricted_loads(raw)
    assert type(out["shapedirs"]) is np.ndarray
    np.testing.assert_array_equal(out["shapedirs"], arr)
    np.testing.assert_array_equal(out["nested"][0], arr[0])


def test_chumpy_expression_classes_are_refused_by_name():
    with fake_chumpy(extra_classes=("Select",)) as ch:
        raw = pickle.dumps({"x": ch.Select()})
    with pytest.raises(CheckpointError, match=r"chumpy\.reordering\.Select"):
        restricted_loads(raw)


def test_chumpy_without_array_is_an_error():
    with fake_chumpy() as ch:
        obj = ch.Ch()
        obj.__dict__["y"] = 1
        raw = pickle.dumps({"v": obj})
    with pytest.raises(CheckpointError, match="no array under 'x'"):
        restricted_loads(raw)


@pytest.mark.parametrize("kind", ["csc_matrix", "csr_matrix", "coo_matrix", "csc_array", "csr_array", "coo_array"])
def test_scipy_sparse_becomes_dense_without_calling_scipy(kind):
    import scipy.sparse

    rng = np.random.default_rng(1)
    dense = np.where(rng.random((5, 40)) < 0.2, rng.standard_normal((5, 40)), 0.0)
    raw = pickle.dumps({"J_regressor": getattr(scipy.sparse, kind)(dense)}, protocol=2)
    out = restricted_loads(raw)["J_regressor"]
    assert type(out) is np.ndarray
    np.testing.assert_array_equal(out, dense)


def test_old_scipy_module_path_and_row_col_coo_state():
    import scipy.sparse

    dense = np.array([[0.0, 2.0, 0.0], [1.0, 0.0, 3.0]])
    raw = pickle.dumps(scipy.sparse.csc_matrix(dense), protocol=2).replace(b"scipy.sparse._csc\n", b"scipy.sparse.csc\n")
    np.testing.assert_array_equal(restricted_loads(raw), dense)
    # an old-style coo state (row/col arrays, 'shape' key) built by hand with protocol 0 opcodes
    coo = scipy.sparse.coo_matrix(dense)
    state = {"shape": (2, 3), "row": coo.row, "col": coo.col, "data": coo.data}
    body = pickle.dumps(state, protocol=2)[2:-1]  # dict opcodes without PROTO/STOP
    raw = b"\x80\x02cscipy.sparse.coo\ncoo_matrix\n)\x81" + body + b"b."
    np.testing.assert_array_equal(restricted_loads(raw), dense)


def test_inconsistent_sparse_is_an_error():
    import scipy.sparse

    m = scipy.sparse.csc_matrix(np.eye(3))
    m.indices[0] = 7  # out of range row
    with pytest.raises(CheckpointError, match="outside its shape"):
        restricted_loads(pickle.dumps(m, protocol=2))


@pytest.mark.parametrize("cut", [1, 10, 0.5, -1])
def test_truncated_pickles_are_clear_errors(cut):
    raw = pickle.dumps({"a": np.arange(1000.0), "b": [1, 2, 3]}, protocol=2)
    n = int(len(raw) * cut) if isinstance(cut, float) else (cut if cut > 0 else len(raw) + cut)
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        restricted_loads(raw[:n], origin="cut.pkl")


def test_garbage_is_a_clear_error():
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        restricted_loads(bytes(range(256)) * 4)
    with pytest.raises(CheckpointError):
        restricted_loads(b"")


def test_persistent_ids_are_refused():
    class P(pickle.Pickler):
        def persistent_id(self, obj):
            return "storage" if isinstance(obj, np.ndarray) else None

    buf = io.BytesIO()
    P(buf, protocol=2).dump({"a": np.zeros(2)})
    with pytest.raises(CheckpointError, match="persistent"):
        restricted_loads(buf.getvalue())
