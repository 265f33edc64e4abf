"""The tensor names and shapes a :class:`~emoctl.config.ModulatorConfig` implies, without building
anything.

``from_pretrained`` compares these with the safetensors header before it builds the modules, so
a ``config.json`` that does not describe its weights is refused at once instead of after a large
allocation. Building the modules on the ``meta`` device would give the same answer, but its first
use imports ``torch._dynamo`` (seconds). This mirrors the modules' structure: the Hub tests compare
it with ``EmotionModulators(config).state_dict()`` for several configs, and loading still checks
the built modules' own state dict before copying anything.
"""

from __future__ import annotations

from emoctl.config import ModulatorConfig

_FF_MULT = 4  # GeometryModulator's feed-forward expansion (not a config field)


def expected_shapes(config: ModulatorConfig) -> dict[str, tuple[int, ...]]:
    """``{state-dict name: shape}`` of ``EmotionModulators(config)``."""
    e, d, p = config.emotion_dim, config.geometry_dim, config.expression_dim + 3
    shapes = {"embedding.table": (len(config.emotions) - 1, e)}
    shapes.update(_tokens("geometry.tokens", config.geometry_tokens, e, d))
    shapes.update(_linear("geometry.in_proj", p, d))
    for i in range(config.geometry_layers):
        block = f"geometry.blocks.{i}"
        for norm in ("norm_self", "norm_cross", "norm_ff"):
            shapes.update(_layer_norm(f"{block}.{norm}", d))
        shapes[f"{block}.self_attn.in_proj_weight"] = (3 * d, d)
        shapes[f"{block}.self_attn.in_proj_bias"] = (3 * d,)
        shapes.update(_linear(f"{block}.self_attn.out_proj", d, d))
        shapes.update(_linear(f"{block}.cross_attn.q", d, d))
        shapes.update(_linear(f"{block}.cross_attn.kv", d, 2 * d))
        shapes.update(_linear(f"{block}.cross_attn.out", d, d))
        shapes.update(_linear(f"{block}.ff.0", d, _FF_MULT * d))
        shapes.update(_linear(f"{block}.ff.2", _FF_MULT * d, d))
    shapes.update(_layer_norm("geometry.norm", d))
    shapes.update(_linear("geometry.out_proj", d, p))
    shapes["geometry.param_mean"] = shapes["geometry.param_std"] = (p,)
    if config.token_dim is not None:
        shapes.update(_tokens("appearance.tokens", config.appearance_tokens, e, config.token_dim))
        if config.appearance_mode == "gated":
            shapes["appearance.gates"] = (config.gate_layers,)
    return shapes


def _linear(name: str, fan_in: int, fan_out: int) -> dict[str, tuple[int, ...]]:
    return {f"{name}.weight": (fan_out, fan_in), f"{name}.bias": (fan_out,)}


def _layer_norm(name: str, dim: int) -> dict[str, tuple[int, ...]]:
    return {f"{name}.weight": (dim,), f"{name}.bias": (dim,)}


def _tokens(name: str, count: int, in_dim: int, out_dim: int) -> dict[str, tuple[int, ...]]:
    """``EmotionTokens``: learned positions and a two-layer projection."""
    return {f"{name}.position": (count, in_dim), **_linear(f"{name}.proj.0", in_dim, out_dim),
            **_linear(f"{name}.proj.2", out_dim, out_dim)}
