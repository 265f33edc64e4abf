"""emoctl.render: differentiable Gaussian rasterization and cameras.

* :func:`rasterize` — one API for two backends: gsplat's CUDA kernels for CUDA tensors (when
  gsplat is installed) and a tile-based PyTorch rasterizer for everything else; both follow
  gsplat 1.5's conventions (:mod:`emoctl.render.conventions`).
* cameras — :func:`intrinsics_from_fov`, :func:`look_at`, :func:`orbit_viewmats`,
  :func:`c2w_to_viewmat`, :func:`opencv_to_opengl_c2w`, :func:`opengl_to_opencv_c2w`,
  :func:`lam_cameras_to_viewmats`.

Writing the images (PNG files, labelled grids, MP4/GIF videos) is :mod:`emoctl.media`'s job.
Importing this package imports neither gsplat nor imageio.
"""

from emoctl.render.cameras import (
    c2w_to_viewmat,
    intrinsics_from_fov,
    lam_cameras_to_viewmats,
    look_at,
    opencv_to_opengl_c2w,
    opengl_to_opencv_c2w,
    orbit_viewmats,
)
from emoctl.render.errors import BackendUnavailableError, MissingDependencyError, RenderArgumentError
from emoctl.render.rasterize import gsplat_available, rasterize

__all__ = [
    "BackendUnavailableError",
    "MissingDependencyError",
    "RenderArgumentError",
    "c2w_to_viewmat",
    "gsplat_available",
    "intrinsics_from_fov",
    "lam_cameras_to_viewmats",
    "look_at",
    "opencv_to_opengl_c2w",
    "opengl_to_opencv_c2w",
    "orbit_viewmats",
    "rasterize",
]
