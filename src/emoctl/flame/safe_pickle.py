"""A restricted unpickler for official FLAME files: arrays only, no code, no chumpy, no scipy.

Official FLAME pickles (2017-2023) hold numpy arrays, a few chumpy ``Ch`` objects (``shapedirs``,
sometimes ``v_template``) and a scipy sparse ``J_regressor``. Loading them with :mod:`pickle`
would run whatever callable the file names, and would need chumpy (unmaintained) installed.

:class:`RestrictedUnpickler` resolves globals only from an allow-list:

- numpy's array/scalar/dtype reconstruction (``numpy.core.multiarray._reconstruct`` of numpy 1,
  ``numpy._core.multiarray._reconstruct`` of numpy 2, ``...multiarray.scalar``,
  ``...numeric._frombuffer`` of protocol 5, ``numpy.ndarray``, ``numpy.dtype``), each behind a
  wrapper that checks its arguments;
- ``_codecs.encode`` restricted to latin-1 (how Python 3 writes ``bytes`` at protocol <= 2),
  ``copy_reg._reconstructor`` restricted to the placeholder classes below, and the harmless
  builtins ``set``, ``frozenset``, ``object``, ``bytearray``, ``complex``,
  ``collections.OrderedDict``;
- ``chumpy.ch.Ch`` (also ``chumpy.Ch``): an inert placeholder that keeps the pickled state; its
  array (state key ``x``) replaces it once loading is done;
- scipy's ``csc``/``csr``/``coo`` matrix and array classes under their old
  (``scipy.sparse.csc``) and new (``scipy.sparse._csc``) module paths: inert placeholders, turned
  into dense numpy arrays from their stored ``data``/``indices``/``indptr`` (or ``row``/``col``,
  ``coords``) by this module; no scipy code runs and scipy need not be installed.

Any other global (``os.system``, ``builtins.eval``, ``subprocess.Popen``, other chumpy classes, ...)
raises :class:`~emoctl.errors.CheckpointError` naming it, before anything is called. Corrupt or
truncated data raises :class:`~emoctl.errors.CheckpointError` too.
"""

from __future__ import annotations

import collections
import io
import pickle
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from emoctl.errors import CheckpointError

# numpy's own reconstruction functions, found without importing private modules by name.
_NP_RECONSTRUCT = np.zeros(1).__reduce__()[0]
_NP_SCALAR = np.float64(0).__reduce__()[0]

_NUMPY_CORE = ("numpy.core", "numpy._core")
_CHUMPY_MODULES = frozenset({"chumpy", "chumpy.ch"})
_SPARSE_FORMATS = ("csc", "csr", "coo")


class _Placeholder:
    """An inert stand-in for a class the file names; it only records the pickled state."""

    qualified_name = "?"
    __slots__ = ("state",)

    def __new__(cls, *args: Any, **kwargs: Any) -> "_Placeholder":
        obj = object.__new__(cls)
        obj.state = None
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # INST/OBJ opcodes pass args: ignore
        pass

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2 and (state[0] is None or isinstance(state[0], dict)):
            merged = dict(state[0] or {})
            merged.update(state[1] or {})
            state = merged
        self.state = state

    def __reduce__(self) -> Any:  # never let a placeholder be re-pickled by accident
        raise TypeError(f"placeholder for {self.qualified_name} cannot be pickled")


class ChumpyArray(_Placeholder):
    """Placeholder for ``chumpy.ch.Ch``; resolved to ``numpy.asarray(state['x'])``."""

    __slots__ = ()


class SparseMatrix(_Placeholder):
    """Placeholder for a scipy sparse matrix/array; resolved to a dense numpy array."""

    __slots__ = ()
    sparse_format = "?"


_PLACEHOLDER_CLASSES: dict[tuple[str, str], type[_Placeholder]] = {}


def _placeholder(base: type[_Placeholder], module: str, name: str, **attrs: Any) -> type[_Placeholder]:
    key = (module, name)
    if key not in _PLACEHOLDER_CLASSES:
        cls = type(f"Placeholder[{module}.{name}]", (base,), {"__slots__": (), "qualified_name": f"{module}.{name}", **attrs})
        _PLACEHOLDER_CLASSES[key] = cls
    return _PLACEHOLDER_CLASSES[key]


def _safe_reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    if subtype is not np.ndarray:
        raise CheckpointError(f"refused numpy reconstruction of {subtype!r}: only numpy.ndarray is allowed")
    return _NP_RECONSTRUCT(subtype, shape, dtype)


def _safe_scalar(dtype: Any, *args: Any) -> Any:
    if not isinstance(dtype, np.dtype):
        raise CheckpointError(f"refused numpy scalar reconstruction with dtype {dtype!r}")
    return _NP_SCALAR(dtype, *args)


def _safe_frombuffer(buf: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise CheckpointError(f"refused numpy buffer reconstruction with dtype {dtype!r}")
    if isinstance(buf, pickle.PickleBuffer):
        buf = buf.raw()
    array = np.frombuffer(bytes(buf), dtype=dtype)
    return array.reshape(shape, order="F" if order == "F" else "C").copy()


def _safe_encode(obj: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    if not isinstance(obj, str) or str(encoding).lower().replace("_", "-") not in ("latin1", "latin-1", "iso-8859-1", "iso8859-1"):
        raise CheckpointError(f"refused _codecs.encode with encoding {encoding!r}: only latin-1 byte strings are allowed")
    return obj.encode("latin-1")


def _safe_reconstructor(cls: Any, base: Any, state: Any) -> Any:
    if isinstance(cls, type) and issubclass(cls, _Placeholder) and base is object and state is None:
        return cls.__new__(cls)
    raise CheckpointError(f"refused copy_reg._reconstructor({cls!r}, {base!r}, ...): only chumpy/scipy placeholders")


def _build_allow_list() -> dict[tuple[str, str], Any]:
    allowed: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _safe_encode,
        ("copy_reg", "_reconstructor"): _safe_reconstructor,
        ("copyreg", "_reconstructor"): _safe_reconstructor,
        ("collections", "OrderedDict"): collections.OrderedDict,
    }
    for core in _NUMPY_CORE:
        for module in (f"{core}.multiarray", f"{core}._multiarray_umath"):
            allowed[(module, "_reconstruct")] = _safe_reconstruct
            allowed[(module, "scalar")] = _safe_scalar
        allowed[(f"{core}.numeric", "_frombuffer")] = _safe_frombuffer
    for builtins_module in ("builtins", "__builtin__"):
        for name, value in (("set", set), ("frozenset", frozenset), ("object", object), ("bytearray", bytearray), ("complex", complex)):
            allowed[(builtins_module, name)] = value
    return allowed


_ALLOWED = _build_allow_list()


def _sparse_format(module: str, name: str) -> str | None:
    if not module.startswith("scipy.sparse"):
        return None
    for fmt in _SPARSE_FORMATS:
        if module in (f"scipy.sparse.{fmt}", f"scipy.sparse._{fmt}", "scipy.sparse") and name in (f"{fmt}_matrix", f"{fmt}_array"):
            return fmt
    return None


def _python3_name(module: str, name: str) -> str:
    """`` (Python 3: 'subprocess.Popen')`` for Python 2 names that pickle maps, else ``""``."""
    import _compat_pickle

    if (module, name) in _compat_pickle.NAME_MAPPING:
        module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    elif module in _compat_pickle.IMPORT_MAPPING:
        module = _compat_pickle.IMPORT_MAPPING[module]
    else:
        return ""
    return f" (Python 3: '{module}.{name}')"


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` whose ``find_class`` admits only the allow-list of this module."""

    def __init__(self, file: BinaryIO, *, origin: str = "<pickle>"):
        super().__init__(file, encoding="latin1")
        self.origin = origin

    def find_class(self, module: str, name: str) -> Any:
        key = (module, name)
        if key in _ALLOWED:
            return _ALLOWED[key]
        if module in _CHUMPY_MODULES:
            if name == "Ch":
                return _placeholder(ChumpyArray, module, name)
            raise CheckpointError(
                f"refused to load {self.origin}: it references the chumpy class '{module}.{name}', which is a "
                "chumpy expression rather than a plain array (only chumpy.ch.Ch arrays can be read)"
            )
        fmt = _sparse_format(module, name)
        if fmt is not None:
            return _placeholder(SparseMatrix, module, name, sparse_format=fmt)
        raise CheckpointError(
            f"refused to load {self.origin}: it references the global '{module}.{name}'{_python3_name(module, name)}, "
            "which is not on the allow-list of array types (numpy arrays, chumpy arrays, scipy sparse matrices); "
            "nothing was executed"
        )

    def persistent_load(self, pid: Any) -> Any:
        raise CheckpointError(f"refused to load {self.origin}: it uses persistent ids, which FLAME files never do")


def restricted_loads(payload: bytes, *, origin: str = "<bytes>") -> Any:
    """Unpickle ``payload`` through :class:`RestrictedUnpickler` and resolve placeholders."""
    return restricted_load(io.BytesIO(payload), origin=origin)


def restricted_load(file: BinaryIO, *, origin: str = "<pickle>") -> Any:
    """Unpickle from an open binary file; chumpy/sparse placeholders become numpy arrays."""
    try:
        obj = RestrictedUnpickler(file, origin=origin).load()
    except CheckpointError:
        raise
    except RecursionError as exc:
        raise CheckpointError(f"cannot read {origin}: the pickle nests too deeply") from exc
    except Exception as exc:  # corrupt/truncated data raises many types (EOFError, UnpicklingError, ...)
        raise CheckpointError(f"cannot read {origin}: corrupt or truncated pickle ({type(exc).__name__}: {exc})") from exc
    return resolve_placeholders(obj, origin=origin)


def load_pickle_file(path: str | Path) -> Any:
    """Read a pickle file through the restricted unpickler."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            return restricted_load(f, origin=f"'{path}'")
    except OSError as exc:
        raise CheckpointError(f"cannot open '{path}': {exc.strerror or exc}") from exc


def resolve_placeholders(obj: Any, *, origin: str = "<pickle>") -> Any:
    """Replace chumpy/sparse placeholders (in dicts, lists, tuples) by numpy arrays."""
    memo: dict[int, Any] = {}

    def resolve(x: Any, depth: int) -> Any:
        if depth > 64:
            raise CheckpointError(f"cannot read {origin}: nested containers deeper than 64 levels")
        if id(x) in memo:
            return memo[id(x)]
        if isinstance(x, ChumpyArray):
            out: Any = _chumpy_to_array(x, origin, lambda v: resolve(v, depth + 1))
        elif isinstance(x, SparseMatrix):
            out = _sparse_to_dense(x, origin, lambda v: resolve(v, depth + 1))
        elif isinstance(x, _Placeholder):
            raise CheckpointError(f"cannot read {origin}: unexpected placeholder {x.qualified_name}")
        elif isinstance(x, dict):
            out = type(x)() if isinstance(x, collections.OrderedDict) else {}
            memo[id(x)] = out
            for k, v in x.items():
                out[k] = resolve(v, depth + 1)
            return out
        elif isinstance(x, list):
            out = []
            memo[id(x)] = out
            out.extend(resolve(v, depth + 1) for v in x)
            return out
        elif isinstance(x, tuple):
            out = tuple(resolve(v, depth + 1) for v in x)
        elif isinstance(x, np.ndarray) and x.dtype.hasobject and x.ndim == 0:
            out = resolve(x.item(), depth + 1)
        else:
            out = x
        memo[id(x)] = out
        return out

    return resolve(obj, 0)


def _chumpy_to_array(ch: ChumpyArray, origin: str, resolve: Any) -> np.ndarray:
    state = ch.state
    if not isinstance(state, dict) or "x" not in state:
        raise CheckpointError(f"cannot read {origin}: a {ch.qualified_name} object has no array under 'x'")
    value = resolve(state["x"])
    array = np.asarray(value)
    if array.dtype.hasobject or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise CheckpointError(f"cannot read {origin}: a {ch.qualified_name} object holds non-numeric data ({array.dtype})")
    return array


def _int_array(state: dict, key: str, origin: str, what: str) -> np.ndarray:
    if key not in state:
        raise CheckpointError(f"cannot read {origin}: {what} has no '{key}' array")
    a = np.asarray(state[key])
    if a.ndim != 1 or not np.issubdtype(a.dtype, np.integer):
        raise CheckpointError(f"cannot read {origin}: {what} '{key}' must be a 1-D integer array, got {a.dtype} {a.shape}")
    return a.astype(np.int64)


def _sparse_to_dense(sp: SparseMatrix, origin: str, resolve: Any) -> np.ndarray:
    what = sp.qualified_name
    state = sp.state
    if not isinstance(state, dict):
        raise CheckpointError(f"cannot read {origin}: {what} has no stored state")
    state = {k: resolve(v) for k, v in state.items()}
    shape = state.get("_shape", state.get("shape"))
    try:
        rows, cols = (int(s) for s in shape)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"cannot read {origin}: {what} has an invalid shape {shape!r}") from exc
    if rows < 0 or cols < 0 or rows * cols > 50_000_000:
        raise CheckpointError(f"cannot read {origin}: {what} has an unsupported shape {(rows, cols)}")
    data = np.asarray(state.get("data"))
    if data.ndim != 1 or not np.issubdtype(data.dtype, np.number):
        raise CheckpointError(f"cannot read {origin}: {what} 'data' must be a 1-D numeric array")
    fmt = type(sp).sparse_format
    if fmt == "coo":
        if "coords" in state:
            coords = state["coords"]
            if not isinstance(coords, tuple) or len(coords) != 2:
                raise CheckpointError(f"cannot read {origin}: {what} 'coords' must be a pair of index arrays")
            state = {**state, "row": coords[0], "col": coords[1]}
        r = _int_array(state, "row", origin, what)
        c = _int_array(state, "col", origin, what)
    else:
        indices = _int_array(state, "indices", origin, what)
        indptr = _int_array(state, "indptr", origin, what)
        outer = cols if fmt == "csc" else rows
        if indptr.shape[0] != outer + 1 or indptr[0] != 0 or np.any(np.diff(indptr) < 0) or indptr[-1] != indices.shape[0]:
            raise CheckpointError(f"cannot read {origin}: {what} has an inconsistent 'indptr'")
        major = np.repeat(np.arange(outer, dtype=np.int64), np.diff(indptr))
        r, c = (indices, major) if fmt == "csc" else (major, indices)
    if not (r.shape == c.shape == data.shape):
        raise CheckpointError(f"cannot read {origin}: {what} index and data arrays differ in length")
    if r.size and (r.min() < 0 or r.max() >= rows or c.min() < 0 or c.max() >= cols):
        raise CheckpointError(f"cannot read {origin}: {what} has indices outside its shape {(rows, cols)}")
    dense = np.zeros((rows, cols), dtype=np.result_type(data.dtype, np.float32))
    np.add.at(dense, (r, c), data)
    return dense
