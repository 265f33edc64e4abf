"""emoctl.data (under construction)."""
