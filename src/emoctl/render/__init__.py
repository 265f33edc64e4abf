"""emoctl.render: differentiable Gaussian rasterization (gsplat on CUDA, PyTorch anywhere)."""

from emoctl.render.rasterize import rasterize

__all__ = ["rasterize"]
