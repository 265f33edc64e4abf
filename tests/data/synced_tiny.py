"""A tiny deterministic world for the emoctl.data tests: anchors, identities and a reenactor whose
frames encode (identity, emotion, frame index) in their colours, so a test can read them back.

Also a command line, used by the kill-and-resume test to build in a subprocess:
    python synced_tiny.py build OUT_DIR [--delay SECONDS] [--shard I N] [--format png|mp4]
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np
import torch

from emoctl.data import (
    AnchorClip,
    CameraRig,
    DatasetConfig,
    Identity,
    PassThroughTracker,
    ReenactedClip,
    build_dataset,
)
from emoctl.emotions import EMOTIONS

SIZE = 64
VIEWS = 2


def make_rig(num_views: int = VIEWS, size: int = SIZE) -> CameraRig:
    """Cameras on a circle 1 m from the origin, looking at it (OpenCV axes)."""
    c2w = torch.zeros(num_views, 4, 4)
    for v in range(num_views):
        angle = 0.3 * v
        forward = torch.tensor([-math.sin(angle), 0.0, -math.cos(angle)])  # towards the origin
        right = torch.tensor([math.cos(angle), 0.0, -math.sin(angle)])
        down = torch.cross(forward, right, dim=0)
        c2w[v, :3, 0], c2w[v, :3, 1], c2w[v, :3, 2] = right, down, forward
        c2w[v, :3, 3] = -forward
        c2w[v, 3, 3] = 1.0
    K = torch.tensor([[2.0 * size, 0.0, size / 2], [0.0, 2.0 * size, size / 2], [0.0, 0.0, 1.0]]).expand(num_views, 3, 3)
    return CameraRig(c2w, K.clone(), size, size)


def make_flame(num_frames: int, emotion_id: int, anchor_index: int) -> dict[str, torch.Tensor]:
    """FLAME sequence whose expr[:, 0] is the emotion id and expr[:, 1] the frame index."""
    t = torch.arange(num_frames, dtype=torch.float32)[:, None]
    expr = 0.01 * torch.sin(t * 0.3 + torch.arange(100) * 0.1 + anchor_index)
    expr[:, 0] = float(emotion_id)
    expr[:, 1] = t[:, 0]
    return {
        "expr": expr,
        "jaw_pose": 0.05 * torch.cat([torch.sin(t * 0.5 + emotion_id), torch.zeros(num_frames, 2)], dim=1),
        "rotation": 0.01 * torch.ones(num_frames, 3) * anchor_index,
        "neck_pose": torch.zeros(num_frames, 3),
        "eyes_pose": torch.zeros(num_frames, 6),
        "translation": torch.zeros(num_frames, 3),
    }


def make_anchor(anchor_id: str, num_frames: int = 6, fps: float = 5.0, anchor_index: int = 0,
                emotions=EMOTIONS, num_views: int = VIEWS) -> AnchorClip:
    return AnchorClip(
        anchor_id=anchor_id,
        fps=fps,
        emotions={e: make_flame(num_frames, k, anchor_index) for k, e in enumerate(emotions)},
        timestamps=torch.arange(num_frames, dtype=torch.float64) / fps,
        cameras=make_rig(num_views),
        meta={"sentence": f"sentence {anchor_id}", "index": anchor_index},
    )


def make_identity(identity_id: str, index: int, size: int = SIZE, reference_emotion: str | None = None,
                  with_betas: bool = True) -> Identity:
    image = np.zeros((size, size, 3), np.uint8)
    image[..., 0] = 20 * index + 10
    image[: size // 2, :, 1] = 200
    return Identity(
        identity_id=identity_id,
        reference_image=image,
        betas=torch.full((300,), 0.01 * index) if with_betas else None,
        reference_emotion=reference_emotion,
        traits={"index": index},
    )


def encode(identity_index: int, emotion_id: int, frame: int) -> tuple[int, int, int]:
    """The colour of a frame (the anchor frame index modulo 32, in steps that survive H.264)."""
    return 20 * identity_index + 10, 30 * emotion_id + 5, (8 * frame + 4) % 256


def decode(frame: np.ndarray) -> tuple[int, int, int]:
    """(identity index, emotion id, frame index mod 32) from a frame's colour (uint8 [H, W, 3] or float [3, H, W])."""
    if frame.dtype != np.uint8:
        frame = np.round(np.moveaxis(np.asarray(frame), 0, -1) * 255).astype(np.int64)
    r, g, b = (int(np.median(frame[..., c])) for c in range(3))
    return round((r - 10) / 20), round((g - 5) / 30), round((b - 4) / 8)


class TinyReenactor:
    """Frames whose colour encodes (identity, emotion, anchor frame), with a small moving square."""

    name = "tiny"

    def __init__(self, delay: float = 0.0, size: int = SIZE):
        self.delay = delay
        self.size = size

    def config(self) -> dict:
        return {"size": self.size, "pattern": "colour-code-v1"}

    def reenact(self, identity: Identity, anchor: AnchorClip, emotion: str) -> ReenactedClip:
        if self.delay:
            time.sleep(self.delay)
        flame = {k: v.clone() for k, v in anchor.emotions[emotion].items()}
        T, V = anchor.num_frames, anchor.cameras.num_views
        emotion_id = int(flame["expr"][0, 0])
        frames = np.zeros((T, V, self.size, self.size, 3), np.uint8)
        for t in range(T):
            source_frame = int(flame["expr"][t, 1])
            for v in range(V):
                frames[t, v] = encode(identity.traits["index"], emotion_id, source_frame)
                x = (4 * t + 7 * v) % (self.size - 8)
                frames[t, v, 2:6, x : x + 4] = 255
        if identity.betas is not None:
            flame["betas"] = identity.betas.clone()
        return ReenactedClip(frames=frames, cameras=anchor.cameras, timestamps=anchor.timestamps.clone(), flame=flame)


SMALL_EMOTIONS = ("neutral", "happy", "sad")


def tiny_world(num_identities: int = 3, num_anchors: int = 2, num_frames: int = 6, fps: float = 5.0,
               emotions=SMALL_EMOTIONS):
    anchors = [make_anchor(f"anchor{a}", num_frames + a, fps, a, emotions) for a in range(num_anchors)]
    identities = [make_identity(f"id{i}", i, reference_emotion=("happy" if i == 1 else None)) for i in range(num_identities)]
    return anchors, identities


def tiny_config(frame_format: str = "png", **overrides) -> DatasetConfig:
    return DatasetConfig.appearance(image_size=SIZE, frame_format=frame_format, png_compress_level=1, **overrides)


def build_tiny(out_dir, *, shard=(0, 1), delay=0.0, frame_format="png", noise_std=0.0, progress=False,
               emotions=SMALL_EMOTIONS, **world):
    anchors, identities = tiny_world(emotions=emotions, **world)
    return build_dataset(anchors, identities, TinyReenactor(delay), PassThroughTracker(noise_std, seed=3),
                         out_dir, shard=shard, config=tiny_config(frame_format), emotions=emotions,
                         progress=progress)


def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["build"])
    parser.add_argument("out_dir")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--shard", type=int, nargs=2, default=(0, 1))
    parser.add_argument("--format", default="png")
    parser.add_argument("--identities", type=int, default=3)
    args = parser.parse_args(argv)
    build_tiny(args.out_dir, shard=tuple(args.shard), delay=args.delay, frame_format=args.format,
               num_identities=args.identities)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
