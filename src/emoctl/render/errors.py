"""Errors specific to rendering (all derive from :class:`emoctl.errors.EmoctlError`)."""

from __future__ import annotations

from emoctl.errors import EmoctlError


class RenderArgumentError(EmoctlError, ValueError):
    """A non-tensor argument of a render call (size, clipping plane, backend, file type) is
    invalid."""


class BackendUnavailableError(EmoctlError, RuntimeError):
    """The requested rasterization backend cannot run here (not installed, or no CUDA)."""


class MissingDependencyError(EmoctlError, ImportError):
    """An optional dependency (imageio for videos, gsplat for CUDA) is not installed."""
