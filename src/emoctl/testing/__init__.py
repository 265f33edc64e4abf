"""emoctl.testing (under construction)."""
