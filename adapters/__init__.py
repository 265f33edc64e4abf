"""emoctl.adapters: one module per backbone family."""
