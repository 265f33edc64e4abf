"""emoctl._files: the atomic writes behind rendered images and FLAME files."""

import os
import stat

import numpy as np
import pytest

from emoctl._files import atomic_path, atomic_write_bytes


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_written_files_get_the_usual_permissions(tmp_path, umask_022):
    # tempfile.mkstemp would leave 0o600: images nobody else on the machine can open
    path = atomic_write_bytes(tmp_path / "a.bin", b"abc")
    assert path.read_bytes() == b"abc"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644

    from emoctl.media import save_png

    png = save_png(np.zeros((2, 2, 3), dtype=np.uint8), tmp_path / "b.png")
    assert stat.S_IMODE(png.stat().st_mode) == 0o644


def test_failure_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "sub" / "c.bin"
    atomic_write_bytes(path, b"old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(path) as tmp:
            assert tmp.suffix == path.suffix and tmp.parent == path.parent
            tmp.write_bytes(b"half")
            raise RuntimeError("boom")
    assert path.read_bytes() == b"old"
    assert [p.name for p in path.parent.iterdir()] == ["c.bin"]


def test_flame_files_are_written_through_it(tmp_path, umask_022):
    from emoctl.flame import save_flame_model
    from emoctl.synthetic import make_synthetic_flame

    path = save_flame_model(make_synthetic_flame(), tmp_path / "head.safetensors")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_skip_identical_and_temporary_prefix(tmp_path):
    path = tmp_path / "m.json"
    assert atomic_write_bytes(path, b"x", skip_identical=True) == path
    os.utime(path, ns=(1, 1))
    assert atomic_write_bytes(path, b"x", skip_identical=True) is None  # same bytes: untouched
    assert path.stat().st_mtime_ns == 1
    assert atomic_write_bytes(path, b"yy", skip_identical=True) == path and path.read_bytes() == b"yy"
    os.utime(path, ns=(1, 1))
    assert atomic_write_bytes(path, b"yy") == path and path.stat().st_mtime_ns != 1  # default: always written
    with pytest.raises(RuntimeError, match="killed"):
        with atomic_path(path, tmp_prefix=".tmp-s0of2-") as tmp:
            assert tmp.name.startswith(".tmp-s0of2-") and tmp.parent == path.parent
            raise RuntimeError("killed")
    assert path.read_bytes() == b"yy" and [p.name for p in tmp_path.iterdir()] == ["m.json"]
