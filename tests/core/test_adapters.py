"""The adapter registry, layout detection, entry points and a third-party adapter."""

import importlib
import sys
import textwrap

import pytest
import torch
from torch import nn

import emoctl
from emoctl.adapters import Adapter, HookHandle, LAMAdapter, available_adapters, find_adapter, flame_entry, register_adapter, registry, unregister_adapter
from emoctl.errors import NoMatchingAdapterError
from emoctl.testing.lam_layout import LAMLayoutModel

from .conftest import SMALL, outputs_equal, perturb


def test_lam_is_detected_by_layout_not_by_class_name():
    class ModelLAM(LAMLayoutModel):  # any class name works ...
        pass

    assert find_adapter(ModelLAM(SMALL)) is LAMAdapter
    renamed = type("SomethingElse", (LAMLayoutModel,), {})
    assert find_adapter(renamed(SMALL)) is LAMAdapter
    broken = LAMLayoutModel(SMALL)
    del broken.transformer.linear_cond_proj  # ... but the layout must be there
    with pytest.raises(NoMatchingAdapterError, match="linear_cond_proj"):
        emoctl.wrap(broken)


def test_token_width_comes_from_linear_cond_proj():
    model = LAMLayoutModel(SMALL)
    ctl = emoctl.wrap(model, emotion_dim=8, geometry_dim=16, geometry_layers=1, geometry_heads=2)
    assert ctl.config.token_dim == model.transformer.linear_cond_proj.in_features == SMALL.cond_dim


class _InferOnly(LAMLayoutModel):
    """Only the inference path takes flame_params, as keyword-only."""

    def forward(self, image, render_c2ws, render_intrs, render_bg_colors):
        raise NotImplementedError

    @torch.no_grad()
    def infer_single_view(self, image, source_c2ws, source_intrs, render_c2ws, render_intrs, render_bg_colors, *, flame_params):
        return self._render(image, render_c2ws, render_intrs, render_bg_colors, flame_params)


def test_keyword_only_flame_params_on_the_inference_path(inputs):
    model = _InferOnly(SMALL)
    ctl = emoctl.wrap(model, emotion_dim=8, geometry_dim=16, geometry_layers=1, geometry_heads=2)
    perturb(ctl)
    assert "forward" not in model.__dict__ and "infer_single_view" in model.__dict__
    with ctl.disabled():
        off = model.infer_single_view(*inputs[:-1], flame_params=inputs[-1])
    with ctl.emotion("happy"):
        on = model.infer_single_view(*inputs[:-1], flame_params=inputs[-1])
    assert not torch.allclose(off["gs_xyz"], on["gs_xyz"])


class _ToyBackbone(nn.Module):
    """Another family: appearance features enter `fuse`, FLAME parameters enter `drive`."""

    def __init__(self):
        super().__init__()
        self.fuse = nn.Linear(12, 12)
        self.out = nn.Linear(12 + 103, 4)

    def drive(self, feats, flame_params):
        x = torch.cat([feats.mean(1), flame_params["expr"][:, 0], flame_params["jaw_pose"][:, 0]], -1)
        return self.out(x)

    def forward(self, feats, flame_params):
        return self.drive(self.fuse(feats), flame_params)


class ToyAdapter(Adapter):
    """Toy layout: model.fuse (nn.Linear over appearance tokens) and model.drive(feats, flame_params)."""

    name = "toy"

    @classmethod
    def missing_features(cls, model):
        missing = []
        if not isinstance(getattr(model, "fuse", None), nn.Linear):
            missing.append("model.fuse")
        if not callable(getattr(model, "drive", None)):
            missing.append("model.drive")
        return missing

    @property
    def token_dim(self):
        return self.model.fuse.in_features

    def install(self, injector):
        def add_tokens(module, args):
            tokens = injector.appearance_tokens(args[0].shape[0], like=args[0])
            return None if tokens is None else (torch.cat([args[0], tokens], 1),)

        def modulate(module, args, kwargs):
            return args, {**kwargs, "flame_params": injector.modulate_flame(kwargs["flame_params"])}

        h1 = self.model.fuse.register_forward_pre_hook(add_tokens)
        h2 = self.model.register_forward_pre_hook(modulate, with_kwargs=True)
        return [HookHandle(h1.remove, "tokens"), HookHandle(h2.remove, "flame")]


def test_a_third_party_adapter_registered_in_code():
    register_adapter(ToyAdapter)
    try:
        model = _ToyBackbone()
        feats = torch.randn(2, 5, 12)
        flame = {"expr": torch.randn(2, 1, 100), "jaw_pose": torch.randn(2, 1, 3)}
        before = model(feats, flame_params=flame)
        ctl = emoctl.wrap(model, emotion_dim=8, geometry_dim=16, geometry_layers=1, geometry_heads=2)
        assert ctl.adapter.name == "toy" and ctl.config.token_dim == 12
        perturb(ctl)
        with ctl.emotion("happy"):
            assert not torch.allclose(model(feats, flame_params=flame), before)
        emoctl.unwrap(model)
        assert torch.equal(model(feats, flame_params=flame), before)
        with pytest.raises(ValueError, match="already registered"):
            register_adapter(type("ToyAdapter2", (ToyAdapter,), {}))
    finally:
        unregister_adapter("toy")
    assert "toy" not in available_adapters()


def test_adapters_from_the_entry_point_group(tmp_path, monkeypatch):
    (tmp_path / "toy_emoctl_plugin.py").write_text(
        textwrap.dedent(
            '''
            from torch import nn
            from emoctl.adapters import Adapter

            class PluginAdapter(Adapter):
                """Plugin layout: model.plugin_marker."""
                name = "plugin"
                @classmethod
                def missing_features(cls, model):
                    return [] if hasattr(model, "plugin_marker") else ["model.plugin_marker"]
                @property
                def token_dim(self):
                    return 8
                def install(self, injector):
                    return []
            '''
        )
    )
    dist = tmp_path / "toy_emoctl_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-emoctl-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[emoctl.adapters]\nplugin = toy_emoctl_plugin:PluginAdapter\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    monkeypatch.setattr(registry, "_entry_points_loaded", False)
    try:
        assert "plugin" in available_adapters()
        model = nn.Linear(2, 2)
        model.plugin_marker = True
        assert find_adapter(model).name == "plugin"
        with pytest.raises(NoMatchingAdapterError, match=r"(?s)'lam'.*'plugin'.*plugin_marker"):
            find_adapter(nn.Linear(2, 2))
    finally:
        unregister_adapter("plugin")
        sys.modules.pop("toy_emoctl_plugin", None)


def test_adapter_choice_by_name_and_unknown_names():
    model = LAMLayoutModel(SMALL)
    ctl = emoctl.wrap(model, adapter="lam", emotion_dim=8, geometry_dim=16, geometry_layers=1, geometry_heads=2)
    assert ctl.adapter.name == "lam"
    emoctl.unwrap(model)
    with pytest.raises(NoMatchingAdapterError, match="no adapter named 'zhang'"):
        emoctl.wrap(model, adapter="zhang")
    with pytest.raises(ValueError, match="appearance modes"):
        register_adapter(ToyAdapter)
        try:
            emoctl.wrap(_ToyBackbone(), adapter="toy", appearance_mode="gated")
        finally:
            unregister_adapter("toy")


def test_install_failure_leaves_no_hooks_behind(inputs, monkeypatch):
    model = LAMLayoutModel(SMALL)
    before = model(*inputs)

    def fail(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(flame_entry, "_patch_flame_entry", fail)  # fails after the appearance hooks went in
    with pytest.raises(RuntimeError, match="boom"):
        emoctl.wrap(model, emotion_dim=8, geometry_dim=16, geometry_layers=1, geometry_heads=2)
    assert emoctl.controller_of(model) is None
    assert not model.transformer._forward_pre_hooks
    assert outputs_equal(model(*inputs), before)
