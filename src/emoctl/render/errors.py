"""Errors specific to rendering (all derive from :class:`emoctl.errors.EmoctlError`).

:class:`RenderArgumentError` and :class:`MissingDependencyError` live in :mod:`emoctl.errors`
(the media writers of :mod:`emoctl.media` raise them too) and are re-exported here.
"""

from __future__ import annotations

from emoctl.errors import EmoctlError, MissingDependencyError, RenderArgumentError

__all__ = ["BackendUnavailableError", "MissingDependencyError", "RenderArgumentError"]


class BackendUnavailableError(EmoctlError, RuntimeError):
    """The requested rasterization backend cannot run here (not installed, or no CUDA)."""
