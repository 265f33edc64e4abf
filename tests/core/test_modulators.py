"""The embedding, geometry modulator and appearance modulator on their own."""

import pytest
import torch

from emoctl import EmotionEmbedding, EmotionModulators, GeometryModulator, NonFiniteError, ShapeError
from emoctl.appearance import AppearanceModulator


def test_neutral_embeds_to_exact_zero_and_mixtures_are_linear():
    emb = EmotionEmbedding(7, 32)
    assert torch.equal(emb(torch.zeros(3, 6)), torch.zeros(3, 32))
    a, b = torch.eye(6)[0], torch.eye(6)[1]
    assert torch.allclose(emb(0.3 * a + 0.7 * b), 0.3 * emb(a) + 0.7 * emb(b), atol=1e-6)
    with pytest.raises(ShapeError):
        emb(torch.zeros(3, 7))


def test_geometry_modulator_is_the_identity_at_initialisation():
    g = GeometryModulator(emotion_dim=32, dim=64, layers=2)
    x = torch.randn(3, 11, 103)
    for z in (torch.randn(3, 32), torch.randn(3, 11, 32)):
        assert torch.equal(g(x, z), x)


def test_geometry_modulator_trains_away_from_identity_and_respects_padding():
    torch.manual_seed(0)
    g = GeometryModulator(emotion_dim=16, dim=32, layers=2, heads=2)
    x = torch.randn(2, 6, 103)
    z = torch.randn(2, 16)
    target = x + 0.5
    opt = torch.optim.Adam(g.parameters(), lr=1e-2)
    for _ in range(30):
        opt.zero_grad()
        loss = (g(x, z) - target).pow(2).mean()
        loss.backward()
        opt.step()
    assert loss.item() < 0.1
    # padded frames are returned unchanged and do not influence real frames
    mask = torch.ones(2, 6, dtype=torch.bool)
    mask[1, 4:] = False
    out = g(x, z, mask)
    assert torch.equal(out[1, 4:], x[1, 4:])
    garbage = x.clone()
    garbage[1, 4:] = 123.0
    assert torch.allclose(g(garbage, z, mask)[1, :4], out[1, :4], atol=1e-5)
    assert torch.allclose(g(x[1:, :4], z[1:])[0], out[1, :4], atol=1e-5)


def test_geometry_modulator_per_frame_emotions_change_only_their_frames_locally():
    torch.manual_seed(0)
    g = GeometryModulator(emotion_dim=8, dim=32, layers=1, heads=2)
    torch.nn.init.normal_(g.out_proj.weight, std=0.1)
    x = torch.randn(1, 5, 103)
    z = torch.randn(1, 5, 8)
    z2 = z.clone()
    z2[0, 2] += 1.0
    diff = (g(x, z) - g(x, z2)).abs().sum(-1)[0]
    assert diff[2] > 0  # the changed frame moves; others may via self-attention, but less
    assert diff[2] == diff.max()


def test_geometry_modulator_errors():
    g = GeometryModulator(emotion_dim=8, dim=16, layers=1, heads=2)
    with pytest.raises(ShapeError, match=r"\[B, T, 103\]"):
        g(torch.zeros(2, 5, 100), torch.zeros(2, 8))
    with pytest.raises(ShapeError, match="emotion"):
        g(torch.zeros(2, 5, 103), torch.zeros(3, 8))
    with pytest.raises(ShapeError, match="emotion"):
        g(torch.zeros(2, 5, 103), torch.zeros(2, 4, 8))
    with pytest.raises(NonFiniteError):
        g(torch.full((1, 2, 103), float("nan")), torch.zeros(1, 8))
    with pytest.raises(ShapeError, match="at least one real"):
        g(torch.zeros(1, 2, 103), torch.zeros(1, 8), torch.zeros(1, 2, dtype=torch.bool))


def test_appearance_tokens_shape_and_gates():
    a = AppearanceModulator(emotion_dim=16, token_dim=24, num_tokens=3)
    assert a(torch.randn(2, 16)).shape == (2, 3, 24)
    assert a.gates is None
    gated = AppearanceModulator(16, 24, 3, mode="gated", gate_layers=4)
    assert torch.equal(gated.gates, torch.zeros(4)) and gated.gate(2).item() == 0.0
    with pytest.raises(ValueError):
        AppearanceModulator(16, 24, mode="gated")
    with pytest.raises(ShapeError):
        a(torch.randn(2, 15))


def test_standalone_retarget_on_a_flame_dict():
    mods = EmotionModulators(emotions=7, token_dim=None, emotion_dim=16, geometry_dim=32, geometry_layers=1, geometry_heads=2)
    assert mods.appearance is None
    flame = {"expr": torch.randn(2, 4, 100), "jaw_pose": torch.randn(2, 4, 3), "betas": torch.randn(2, 300)}
    out = mods.retarget(flame, "happy")
    assert out is not flame and out["betas"] is flame["betas"]
    assert torch.equal(out["expr"], flame["expr"])  # identity at initialisation
    torch.nn.init.normal_(mods.geometry.out_proj.weight, std=0.1)
    happy, sad = mods.retarget(flame, "happy"), mods.retarget(flame, "sad")
    assert not torch.allclose(happy["expr"], sad["expr"])
    assert happy["jaw_pose"].shape == (2, 4, 3)
    # no frame axis: treated as one frame and given back without one
    single = mods.retarget({"expr": flame["expr"][:, 0], "jaw_pose": flame["jaw_pose"][:, 0]}, "happy")
    assert single["expr"].shape == (2, 100)
    with pytest.raises(ShapeError, match="jaw_pose"):
        mods.retarget({"expr": flame["expr"]}, "happy")
    seq = torch.randn(2, 4, 103)
    assert mods.retarget(seq, "happy").shape == seq.shape


def test_retarget_refuses_integer_flame_params_instead_of_truncating_the_modulation():
    mods = EmotionModulators(emotions=7)
    jaw = torch.zeros(1, 4, 3)
    with pytest.raises(ShapeError, match="expr.*floating"):
        mods.retarget({"expr": torch.zeros(1, 4, 100, dtype=torch.int64), "jaw_pose": jaw}, "happy")
    with pytest.raises(ShapeError, match="jaw_pose.*floating"):
        mods.retarget({"expr": torch.zeros(1, 4, 100), "jaw_pose": jaw.long()}, "happy")
    with pytest.raises(ShapeError, match="floating"):  # the packed-tensor path
        mods.retarget(torch.zeros(1, 4, 103, dtype=torch.int64), "happy")


def test_geometry_statistics_standardise_without_breaking_the_identity_and_travel_with_checkpoints(tmp_path):
    mods = EmotionModulators(emotions=7, token_dim=None, emotion_dim=8, geometry_dim=16, geometry_layers=1, geometry_heads=2)
    data = torch.randn(50, 103) * torch.linspace(0.01, 3.0, 103) + 2.0
    mods.geometry.set_statistics(data)
    assert torch.allclose(mods.geometry.param_std, data.std(0)) and torch.allclose(mods.geometry.param_mean, data.mean(0))
    x = data[None, :10]
    assert torch.equal(mods.retarget(x, "happy"), x)  # still the identity at initialisation
    mods.save_pretrained(tmp_path)
    loaded = EmotionModulators.from_pretrained(tmp_path)
    assert torch.equal(loaded.geometry.param_std, mods.geometry.param_std)
    with pytest.raises(ShapeError):
        mods.geometry.set_statistics(torch.full((4, 103), float("nan")))
