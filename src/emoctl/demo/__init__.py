"""``emoctl demo``: the method end to end on the synthetic world (see :mod:`emoctl.demo.run`)."""

from emoctl.demo.run import QUICK, DemoSettings, run_demo

__all__ = ["QUICK", "DemoSettings", "run_demo"]
