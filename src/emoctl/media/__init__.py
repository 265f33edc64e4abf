"""emoctl.media: images and videos in and out (a low layer: no model code).

* images — :func:`to_uint8`, :func:`encode_png` (the one PNG encoder), :func:`save_png`
  (atomic), :func:`read_png`.
* grids — :func:`image_grid` (equally sized images tiled, optionally labelled).
* videos — :func:`write_h264` (the one deterministic H.264 encoder), :func:`write_video`
  (MP4/GIF, atomic), and the dataset's :func:`write_mp4` / :func:`read_mp4`; they need
  ``emoctl[video]``.

Importing this package imports neither Pillow nor imageio.
"""

from emoctl.media.grids import image_grid
from emoctl.media.images import PNG_COMPRESS_LEVEL, encode_png, read_png, save_png, to_uint8
from emoctl.media.video import MP4_CRF, VIDEO_SUFFIXES, read_mp4, write_h264, write_mp4, write_video

__all__ = [
    "MP4_CRF",
    "PNG_COMPRESS_LEVEL",
    "VIDEO_SUFFIXES",
    "encode_png",
    "image_grid",
    "read_mp4",
    "read_png",
    "save_png",
    "to_uint8",
    "write_h264",
    "write_mp4",
    "write_video",
]
