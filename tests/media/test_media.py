"""PNG, image grids, MP4/GIF videos; atomic writes."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from PIL import Image

from emoctl.errors import MissingDependencyError, NonFiniteError, RenderArgumentError, ShapeError
from emoctl.media import image_grid, save_png, write_video


def _frames(t=4, h=18, w=22):
    """Frames of flat colour blocks (robust to video compression)."""
    frames = np.zeros((t, h, w, 3), dtype=np.uint8)
    for i in range(t):
        frames[i, :, : w // 2] = (40 * i, 200, 30)
        frames[i, :, w // 2 :] = (220, 20, 60 + 40 * i)
    return frames


def test_save_png_float_and_uint8(tmp_path):
    img = torch.rand(9, 7, 3, generator=torch.Generator().manual_seed(0))
    path = save_png(img, tmp_path / "a.png")
    back = np.asarray(Image.open(path))
    assert back.shape == (9, 7, 3) and back.dtype == np.uint8
    np.testing.assert_array_equal(back, np.round(img.numpy() * 255).astype(np.uint8))
    rgba = np.random.default_rng(0).integers(0, 256, (5, 6, 4), dtype=np.uint8)
    np.testing.assert_array_equal(np.asarray(Image.open(save_png(rgba, tmp_path / "b.png"))), rgba)
    clipped = np.asarray(Image.open(save_png(torch.tensor([[[-1.0, 0.5, 2.0]]]), tmp_path / "c.png")))
    np.testing.assert_array_equal(clipped, [[[0, 128, 255]]])


def test_save_png_rejects_bad_input_and_keeps_existing_file(tmp_path):
    path = tmp_path / "keep.png"
    save_png(np.zeros((4, 4, 3), dtype=np.uint8), path)
    before = path.read_bytes()
    with pytest.raises(ShapeError):
        save_png(np.zeros((4, 4, 2)), path)
    with pytest.raises(NonFiniteError):
        save_png(np.full((4, 4, 3), np.nan), path)
    with pytest.raises(ShapeError):
        save_png(np.zeros((4, 4, 3), dtype=np.int32), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.png"]


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    path = tmp_path / "x.png"
    save_png(np.zeros((4, 4, 3), dtype=np.uint8), path)
    before = path.read_bytes()

    def broken_save(self, fp, *args, **kwargs):
        with open(fp, "wb") as fh:
            fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_png(np.ones((4, 4, 3), dtype=np.uint8), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.png"]


def test_image_grid_layout_and_labels():
    images = np.stack([np.full((10, 12, 3), 30 * (i + 1), dtype=np.uint8) for i in range(5)])
    grid = image_grid(images, ncols=3, pad=2)
    assert grid.shape == (2 * 10 + 3 * 2, 3 * 12 + 4 * 2, 3) and grid.dtype == np.uint8
    # Cell (row 1, col 1) holds image 4, padding is white.
    np.testing.assert_array_equal(grid[2 + 10 + 2 + 5, 2 + 12 + 2 + 6], [150, 150, 150])
    assert (grid[0] == 255).all() and (grid[:, 0] == 255).all()
    labelled = image_grid(torch.from_numpy(images).float() / 255, ncols=3, labels=list("abcde"))
    assert labelled.shape[0] > grid.shape[0]  # label strips
    strip = labelled[2 + 10 : 2 + 10 + 8, 2 : 2 + 12]
    assert (strip < 100).any()  # black text under image 0
    unlabelled_strip = image_grid(images, ncols=3, labels=["a", "", "c", "d", "e"])
    assert not (unlabelled_strip[2 + 10 : 2 + 10 + 8, 2 + 12 + 2 : 2 + 24 + 2] < 100).any()
    with pytest.raises(ShapeError):
        image_grid(images, ncols=2, labels=["only one"])
    with pytest.raises(RenderArgumentError):
        image_grid(images, ncols=0)
    with pytest.raises(ShapeError):
        image_grid(images[..., :2], ncols=2)


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_write_video_round_trip(tmp_path, suffix):
    import imageio.v2 as imageio_v2

    frames = _frames(t=5, h=17, w=22)  # odd height: padded for H.264
    path = write_video(frames, tmp_path / f"clip{suffix}", fps=10)
    back = np.stack(imageio_v2.mimread(path))
    assert back.shape[0] == 5
    assert back.shape[1] in (17, 18) and back.shape[2] == 22
    back = back[:, :17, :, :3].astype(float)
    # Away from the colour edge (chroma subsampling blurs it), the blocks keep their colour.
    for cols in (slice(0, 7), slice(15, 22)):
        err = np.abs(back[:, :, cols].mean(axis=(1, 2)) - frames[:, :, cols].mean(axis=(1, 2)))
        assert err.max() < 6
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"clip{suffix}"]


def test_write_video_errors(tmp_path, monkeypatch):
    with pytest.raises(RenderArgumentError, match="mp4"):
        write_video(_frames(), tmp_path / "clip.avi", fps=10)
    with pytest.raises(RenderArgumentError, match="fps"):
        write_video(_frames(), tmp_path / "clip.mp4", fps=0)
    with pytest.raises(ShapeError):
        write_video(_frames()[0], tmp_path / "clip.mp4", fps=10)
    monkeypatch.setitem(sys.modules, "imageio", None)
    monkeypatch.setitem(sys.modules, "imageio.v2", None)
    with pytest.raises(MissingDependencyError, match=r'pip install "emoctl\[video\]"'):
        write_video(_frames(), tmp_path / "clip.mp4", fps=10)
    assert list(tmp_path.iterdir()) == []
