"""Helpers for testing emoctl and third-party adapters (not imported by ``import emoctl``).

``emoctl.testing.lam_layout`` builds small models with LAM's module layout (needs diffusers).
"""
