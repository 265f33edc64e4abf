"""Fine-tune the emotion modulators inside your own training loop (paper S1.1).

The backbone is frozen; only ``ctl.trainable_parameters()`` are optimised. Each batch carries its
own target emotion per sample. The geometry loss compares the modulated FLAME parameters with the
target emotion's parameters of the same content (here: made up); the appearance loss compares
renders with target frames (here: a made-up target as well).

    python examples/finetune_in_your_loop.py --steps 20
"""

import argparse

import torch

import emoctl
from emoctl.testing.lam_layout import LAMLayoutConfig, LAMLayoutModel, make_inputs


def main(steps: int) -> dict[str, list[float]]:
    torch.manual_seed(0)
    cfg = LAMLayoutConfig()
    model = LAMLayoutModel(cfg)
    ctl = emoctl.wrap(model, emotions=7, geometry_layers=2, geometry_dim=128)
    ctl.freeze_backbone()
    opt = torch.optim.AdamW(ctl.trainable_parameters(), lr=1e-3)

    image, src_c2w, src_intr, c2w, intr, bg, flame = make_inputs(cfg, batch=2, frames=4)
    target_emotion = torch.tensor([1, 2])  # happy, sad
    target_expr = flame["expr"] + torch.tensor([0.5, -0.5])[:, None, None]  # stand-in ground truth
    target_rgb = torch.rand(2, 4, cfg.render_size, cfg.render_size, 3)

    losses = {"geometry": [], "appearance": []}
    for step in range(steps):
        with ctl.emotion(target_emotion):
            modulated = ctl.modulate_flame(flame)  # the geometry branch on its own (for L_geo)
            out = model(image, src_c2w, src_intr, c2w, intr, bg, flame)  # the full wrapped model
        loss_geo = (modulated["expr"] - target_expr).square().mean()
        loss_app = (out["comp_rgb"] - target_rgb).abs().mean()
        loss = loss_app + 0.1 * loss_geo
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses["geometry"].append(loss_geo.item())
        losses["appearance"].append(loss_app.item())
        if step % 5 == 0 or step == steps - 1:
            print(f"step {step:3d}  loss {loss.item():.4f}  (geometry {loss_geo.item():.4f}, appearance {loss_app.item():.4f})")
    return losses


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=50)
    main(ap.parse_args().steps)
