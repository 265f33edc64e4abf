"""emoctl.emotions."""
