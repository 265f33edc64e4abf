"""emoctl.render (under construction)."""
