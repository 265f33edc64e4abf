"""emoctl.flame (under construction)."""
