"""emoctl.appearance."""
