"""ctl.bind: the emotion of a ``with ctl.emotion(...)`` block carried into thread-pool work.

Context variables do not cross into ``ThreadPoolExecutor`` / ``run_in_executor`` threads (they do
into ``asyncio.to_thread``); ``ctl.bind(fn)`` carries them.
"""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

import emoctl
from emoctl.testing.lam_layout import LAMLayoutModel

from .conftest import SMALL, perturb


@pytest.fixture
def ctl(model, small_kwargs):
    controller = emoctl.wrap(model, **small_kwargs)
    perturb(controller)
    return controller


def _name(ctl):
    """The name of the emotion active in this thread ("disabled" inside ``disabled()``)."""
    label = ctl.active_emotion
    if label is None:
        return "disabled"
    return ctl.vocabulary[int(label.coefficients.argmax()) + 1] if label.coefficients.any() else "neutral"


def test_pool_work_keeps_the_emotion_only_when_bound(ctl, model, inputs):
    with ctl.emotion("happy"):
        happy = model(*inputs)["comp_rgb"]
    neutral = model(*inputs)["comp_rgb"]
    assert not torch.allclose(happy, neutral)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(int).result()  # start the worker outside the block (threads may inherit a context on 3.14+)
        with ctl.emotion("happy"):
            unbound = pool.submit(lambda: _name(ctl)).result()
            bound = pool.submit(ctl.bind(_name), ctl).result()
            rendered = pool.submit(ctl.bind(model), *inputs).result()["comp_rgb"]
    assert unbound == "neutral"  # the rule bind exists for: pool threads do not inherit the context
    assert bound == "happy"
    assert torch.allclose(rendered, happy, atol=1e-6)


def test_run_in_executor_needs_bind_and_to_thread_does_not(ctl):
    async def main():
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, int)  # the default executor's thread starts outside the block
        with ctl.emotion("sad"):
            executor = await loop.run_in_executor(None, _name, ctl)
            bound = await loop.run_in_executor(None, ctl.bind(_name), ctl)
            to_thread = await asyncio.to_thread(_name, ctl)
        return executor, bound, to_thread

    assert asyncio.run(main()) == ("neutral", "sad", "sad")


def test_one_bound_function_runs_in_many_threads_at_once(ctl):
    barrier = threading.Barrier(4)

    def job(i):
        barrier.wait(timeout=10)  # all four inside the bound context at the same time
        with ctl.emotion("angry" if i % 2 else "fearful"):  # a block inside the job stays inside it
            inner = _name(ctl)
        return inner, _name(ctl)

    with ThreadPoolExecutor(max_workers=4) as pool:
        with ctl.emotion("surprised"):
            bound = ctl.bind(job)
        results = list(pool.map(bound, range(4)))  # the block has ended: bind captured the state
    assert results == [("fearful", "surprised"), ("angry", "surprised")] * 2
    assert _name(ctl) == "neutral"


def test_bind_carries_disabled_and_every_controllers_emotion(ctl, small_kwargs):
    other = emoctl.wrap(LAMLayoutModel(SMALL), **small_kwargs)
    with ThreadPoolExecutor(max_workers=1) as pool:
        with ctl.emotion("happy"), other.emotion("sad"):
            both = pool.submit(ctl.bind(lambda: (_name(ctl), _name(other)))).result()
        with ctl.disabled():
            disabled = pool.submit(ctl.bind(_name), ctl).result()
    assert both == ("happy", "sad")
    assert disabled == "disabled"


def test_bind_keeps_the_function_and_refuses_non_callables(ctl):
    def render(x, *, scale=1):
        """Render x."""
        return x * scale

    bound = ctl.bind(render)
    assert bound(3, scale=2) == 6 and bound.__name__ == "render" and bound.__doc__ == "Render x."
    with pytest.raises(TypeError, match="callable"):
        ctl.bind("render")
