"""emoctl.geometry."""
