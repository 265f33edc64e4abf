"""wrap(), the controller's contexts, hooks and their removal, on a LAM-layout model."""

import asyncio
import threading

import pytest
import torch
from torch import nn

import emoctl
from emoctl import AlreadyWrappedError, NoMatchingAdapterError, NonFiniteError, NotWrappedError, ShapeError, UnknownEmotionError

from emoctl.testing.lam_layout import LAMLayoutModel

from .conftest import SMALL, outputs_equal, perturb


def test_disabled_and_unwrap_are_bit_exact(model, inputs, small_kwargs):
    before = model(*inputs)
    keys = list(model.state_dict())
    ctl = emoctl.wrap(model, emotions=7, **small_kwargs)
    perturb(ctl)
    assert list(model.state_dict()) == keys  # wrapping adds nothing to the backbone's state_dict
    with ctl.disabled():
        assert outputs_equal(model(*inputs), before)
        assert outputs_equal(model.infer_single_view(*inputs), before)
    with ctl.emotion("happy"):
        assert not torch.allclose(model(*inputs)["comp_rgb"], before["comp_rgb"])
    returned = emoctl.unwrap(model)
    assert returned is ctl and not ctl.attached
    assert outputs_equal(model(*inputs), before)
    assert list(model.state_dict()) == keys
    assert "forward" not in model.__dict__ and "infer_single_view" not in model.__dict__
    assert emoctl.controller_of(model) is None


def test_controller_state_dict_holds_only_the_added_modules(model, small_kwargs):
    ctl = emoctl.wrap(model, **small_kwargs)
    keys = set(ctl.state_dict())
    assert keys and all(k.split(".")[0] in ("embedding", "geometry", "appearance") for k in keys)
    n_backbone = sum(p.numel() for p in model.parameters())
    assert sum(p.numel() for p in ctl.trainable_parameters()) == sum(p.numel() for p in ctl.parameters())
    assert sum(p.numel() for p in ctl.parameters()) != n_backbone


def test_emotion_changes_the_output_and_per_sample_labels_match_single_runs(model, inputs, small_kwargs):
    ctl = emoctl.wrap(model, **small_kwargs)
    perturb(ctl)
    with ctl.emotion("neutral"):
        neutral = model(*inputs)["comp_rgb"]
    with ctl.emotion("happy"):
        happy = model(*inputs)["comp_rgb"]
    assert not torch.allclose(neutral, happy)
    with ctl.emotion(torch.tensor([0, 1])):  # neutral for sample 0, happy for sample 1
        mixed = model(*inputs)["comp_rgb"]
    assert torch.allclose(mixed[0], neutral[0], atol=1e-5)
    assert torch.allclose(mixed[1], happy[1], atol=1e-5)
    assert not torch.allclose(mixed[0], mixed[1])
    with ctl.emotion(["neutral", "happy"]):
        assert torch.allclose(model(*inputs)["comp_rgb"], mixed, atol=1e-6)


def test_default_emotion_is_neutral_and_settable(model, inputs, small_kwargs):
    ctl = emoctl.wrap(model, **small_kwargs)
    perturb(ctl)
    with ctl.emotion("neutral"):
        neutral = model(*inputs)["comp_rgb"]
    assert torch.allclose(model(*inputs)["comp_rgb"], neutral)
    ctl.default_emotion = "sad"
    with ctl.emotion("sad"):
        sad = model(*inputs)["comp_rgb"]
    assert torch.allclose(model(*inputs)["comp_rgb"], sad)


def test_interpolation_endpoints_and_mixtures_through_the_model(model, inputs, small_kwargs):
    ctl = emoctl.wrap(model, **small_kwargs)
    perturb(ctl)
    outs = {}
    for name, label in [("happy", "happy"), ("sad", "sad"), ("t0", emoctl.interpolate("happy", "sad", 0.0)),
                        ("t1", emoctl.interpolate("happy", "sad", 1.0)), ("mid", {"happy": 0.5, "sad": 0.5})]:
        with ctl.emotion(label):
            outs[name] = model(*inputs)["comp_rgb"]
    assert torch.equal(outs["t0"], outs["happy"]) and torch.equal(outs["t1"], outs["sad"])
    assert not torch.allclose(outs["mid"], outs["happy"]) and not torch.allclose(outs["mid"], outs["sad"])


def test_per_frame_curve_on_the_geometry_path(model, inputs, small_kwargs):
    ctl = emoctl.wrap(model, **small_kwargs)
    perturb(ctl)
    curve = torch.zeros(2, 3, 7)
    curve[:, :, 0] = 1  # neutral everywhere ...
    curve[:, 2] = 0
    curve[:, 2, 1] = 1  # ... but happy in the last frame
    seen = {}
    orig = model.animate

    def spy(xyz, flame_params):
        seen["expr"] = flame_params["expr"]
        return orig(xyz, flame_params)

    model.animate = spy
    with ctl.emotion(curve):
        model(*inputs)
    curved = seen["expr"]
    with ctl.emotion("neutral"):
        model(*inputs)
    neutral = seen["expr"]
    assert not torch.allclose(curved[:, 2], neutral[:, 2])
    with pytest.raises(ShapeError, match="curve has 4 frames"):
        with ctl.emotion(torch.ones(2, 4, 7)):
            model(*inputs)


def test_gradients_reach_only_the_modulators_when_the_backbone_is_frozen(model, inputs, small_kwargs):
    ctl = emoctl.wrap(model, **small_kwargs)
    perturb(ctl, std=0.05)
    ctl.freeze_backbone()
    with ctl.emotion("angry"):
        out = model(*inputs)
    (out["comp_rgb"].square().mean() + out["gs_xyz"].square().mean()).backward()
    assert all(p.grad is None for p in model.parameters())
    for part, module in ctl.part_modules().items():
        grads = [p.grad for p in module.parameters()]
        assert all(g is not None for g in grads), part
        assert any(g.abs().sum() > 0 for g in grads), part
    opt = torch.optim.AdamW(ctl.trainable_parameters(), lr=1e-3)
    before = ctl.geometry.out_proj.weight.detach().clone()
    opt.step()
    assert not torch.equal(before, ctl.geometry.out_proj.weight)


def test_flame_params_are_not_modified_in_place(model, inputs, small_kwargs):
    ctl = emoctl.wrap(model, **small_kwargs)
    perturb(ctl)
    flame = inputs[-1]
    snapshot = {k: v.clone() for k, v in flame.items()}
    with ctl.emotion("surprised"):
        model(*inputs)
        model.infer_single_view(*inputs[:-1], flame_params=flame)
    assert all(torch.equal(flame[k], snapshot[k]) for k in flame) and set(flame) == set(snapshot)


def test_bad_inputs_raise_clear_errors_and_leave_the_model_usable(model, inputs, small_kwargs):
    ctl = emoctl.wrap(model, **small_kwargs)
    with pytest.raises(UnknownEmotionError, match="joy"):
        with ctl.emotion("joy"):
            pass
    with pytest.raises(ShapeError, match="3 per-sample entries but the batch has 2"):
        with ctl.emotion(["happy", "sad", "angry"]):
            model(*inputs)
    bad = dict(inputs[-1], expr=inputs[-1]["expr"].clone())
    bad["expr"][0, 0, 0] = float("nan")
    with pytest.raises(NonFiniteError, match="expr"):
        model(*inputs[:-1], bad)
    with pytest.raises(ShapeError, match="100"):
        model(*inputs[:-1], dict(inputs[-1], expr=torch.zeros(2, 3, 50)))
    with ctl.disabled():  # disabled: no checks, no changes
        model(*inputs)
    model(*inputs)


def test_wrap_errors():
    with pytest.raises(NoMatchingAdapterError, match=r"(?s)'lam'.*model.transformer"):
        emoctl.wrap(nn.Linear(3, 3))
    with pytest.raises(TypeError):
        emoctl.wrap("not a model")
    with pytest.raises(NotWrappedError):
        emoctl.unwrap(nn.Linear(3, 3))


def test_wrapping_twice_is_an_error_and_rewrapping_after_unwrap_works(model, inputs, small_kwargs):
    emoctl.wrap(model, **small_kwargs)
    with pytest.raises(AlreadyWrappedError):
        emoctl.wrap(model, **small_kwargs)
    emoctl.unwrap(model)
    ctl = emoctl.wrap(model, emotions=["neutral", "calm", "furious"], **small_kwargs)
    with ctl.emotion("furious"):
        model(*inputs)


def test_gated_mode_reproduces_the_original_until_the_gates_move(model, inputs, small_kwargs):
    before = model(*inputs)
    ctl = emoctl.wrap(model, appearance_mode="gated", **small_kwargs)
    assert ctl.appearance.gates.shape == (len(model.transformer.layers),)
    with ctl.emotion("happy"):
        out = model(*inputs)
    assert outputs_equal(out, before)
    # the gates still learn from zero
    model.requires_grad_(False)
    with ctl.emotion("happy"):
        model(*inputs)["latent"].square().sum().backward()
    assert ctl.appearance.gates.grad is not None and ctl.appearance.gates.grad.abs().sum() > 0
    with torch.no_grad():
        ctl.appearance.gates.fill_(1.0)
    with ctl.emotion("happy"):
        assert not torch.allclose(model(*inputs)["latent"], before["latent"])
    with ctl.disabled():
        assert outputs_equal(model(*inputs), before)
    emoctl.unwrap(model)
    assert all(type(b.attn.processor).__name__ == "JointAttnProcessor2_0" for b in model.transformer.layers)
    assert outputs_equal(model(*inputs), before)


def test_gated_mode_builds_the_emotion_tokens_once_per_transformer_call(model, inputs, small_kwargs):
    ctl = emoctl.wrap(model, appearance_mode="gated", **small_kwargs)
    with torch.no_grad():
        ctl.appearance.gates.fill_(0.5)
    with ctl.emotion("happy"):
        shared = model(*inputs)["latent"]
    calls = []
    original = ctl.appearance_tokens_for
    ctl.appearance_tokens_for = lambda *a, **k: calls.append(1) or original(*a, **k)
    with ctl.emotion("happy"):
        again = model(*inputs)["latent"]
    assert len(model.transformer.layers) > 1 and len(calls) == 1
    assert torch.equal(again, shared)
    # a layer run outside a transformer call (activation-checkpoint recomputation) still gets them
    block = model.transformer.layers[0]
    x, c = torch.randn(2, 5, block.attn.to_q.in_features), torch.randn(2, 3, block.attn.add_k_proj.in_features)
    with ctl.emotion("happy"):
        emotional = block(hidden_states=x, encoder_hidden_states=c)[0]
    with ctl.disabled():
        plain = block(hidden_states=x, encoder_hidden_states=c)[0]
    assert not torch.allclose(emotional, plain)
    # a failing transformer call leaves nothing behind for the next one
    with ctl.emotion("happy"), pytest.raises(Exception):
        model.transformer(torch.randn(2, 5, 7), cond=torch.randn(2, 3, model.transformer.linear_cond_proj.in_features))
    with ctl.disabled():
        assert torch.equal(model.transformer.layers[0](hidden_states=x, encoder_hidden_states=c)[0], plain)


def test_threads_do_not_see_each_others_emotions(model, inputs, small_kwargs):
    ctl = emoctl.wrap(model, **small_kwargs)
    perturb(ctl)
    expected = {}
    for name in ("happy", "sad"):
        with ctl.emotion(name):
            expected[name] = model(*inputs)["comp_rgb"]
    barrier = threading.Barrier(2)
    results, errors = {}, []

    def worker(name):
        try:
            with ctl.emotion(name):
                barrier.wait()
                for _ in range(3):
                    results.setdefault(name, []).append(model(*inputs)["comp_rgb"])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("happy", "sad")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for name in ("happy", "sad"):
        assert all(torch.allclose(r, expected[name], atol=1e-6) for r in results[name])


def test_asyncio_tasks_do_not_see_each_others_emotions(model, inputs, small_kwargs):
    ctl = emoctl.wrap(model, **small_kwargs)
    perturb(ctl)

    async def run(name):
        with ctl.emotion(name):
            await asyncio.sleep(0)
            first = ctl.active_emotion
            await asyncio.sleep(0.01)
            return name, first, ctl.active_emotion, model(*inputs)["comp_rgb"]

    async def main():
        return await asyncio.gather(run("happy"), run("sad"), run("angry"))

    for name, first, last, out in asyncio.run(main()):
        label = ctl.parse(name)
        assert torch.equal(first.coefficients, label.coefficients) and torch.equal(last.coefficients, label.coefficients)
        with ctl.emotion(name):
            assert torch.allclose(out, model(*inputs)["comp_rgb"], atol=1e-6)


class _NestedHost(LAMLayoutModel):
    """A host whose inference path calls its training path, both taking flame_params."""

    @torch.no_grad()
    def infer_single_view(self, image, source_c2ws, source_intrs, render_c2ws, render_intrs, render_bg_colors, flame_params):
        return self.forward(image, source_c2ws, source_intrs, render_c2ws, render_intrs, render_bg_colors, flame_params)


def test_nested_entry_points_modulate_once(inputs, small_kwargs):
    host = _NestedHost(SMALL)
    ctl = emoctl.wrap(host, **small_kwargs)
    perturb(ctl)
    calls = []
    original = ctl.modulate_sequence
    ctl.modulate_sequence = lambda *a, **k: calls.append(1) or original(*a, **k)
    with ctl.emotion("happy"):
        via_forward = host(*inputs)["comp_rgb"]
        assert len(calls) == 1
        via_infer = host.infer_single_view(*inputs)["comp_rgb"]
    assert len(calls) == 2  # once per outer call, not once per entry point
    assert torch.allclose(via_forward, via_infer)


def test_wrap_before_torch_compile(model, inputs, small_kwargs):
    ctl = emoctl.wrap(model, **small_kwargs)
    perturb(ctl)
    with ctl.emotion("happy"):
        eager_happy = model(*inputs)["comp_rgb"]
    with ctl.emotion("sad"):
        eager_sad = model(*inputs)["comp_rgb"]
    with ctl.disabled():
        eager_off = model(*inputs)["comp_rgb"]
    torch._dynamo.reset()
    compiled = torch.compile(model, backend="aot_eager")
    with ctl.emotion("happy"):
        assert torch.allclose(compiled(*inputs)["comp_rgb"], eager_happy, atol=1e-5)
    with ctl.emotion("sad"):  # a new emotion after compilation is honoured
        assert torch.allclose(compiled(*inputs)["comp_rgb"], eager_sad, atol=1e-5)
    with ctl.disabled():
        assert torch.allclose(compiled(*inputs)["comp_rgb"], eager_off, atol=1e-5)
    with pytest.raises(TypeError, match="compile"):
        emoctl.wrap(compiled)
    torch._dynamo.reset()
