"""A picture of the world: the seven emotions of a few identities, from the same anchor frame.

``emotion_grid()`` made ``docs/images/synthetic-emotions.png``::

    from emoctl.media import save_png
    from emoctl.synthetic.preview import emotion_grid
    save_png(emotion_grid(), "docs/images/synthetic-emotions.png")
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from emoctl.data import Identity
from emoctl.emotions import EMOTIONS
from emoctl.synthetic.anchors import make_anchor
from emoctl.synthetic.cameras import camera_rig
from emoctl.synthetic.world import SyntheticWorld


def emotion_grid(identity_seeds: Sequence[int] = (21, 3, 11, 55), *, size: int = 256, anchor_seed: int = 11,
                 opening: float = 0.3, subdivide: int = 1, labels: bool = True) -> np.ndarray:
    """uint8 ``[H, W, 3]``: one row per identity seed, one column per emotion, all from the anchor
    frame whose jaw opening is nearest ``opening`` x its maximum; frontal camera, ``size`` pixels."""
    from emoctl.media import image_grid

    world = SyntheticWorld(0, subdivide=subdivide, baked_fraction=0.0)
    rig = camera_rig([0.0], None, size, distance=0.54, target=(0.0, 0.01, 0.02))
    anchor = make_anchor("anchor-preview", seed=anchor_seed, duration_s=3.0, cameras=rig, emotion_model=world.emotion_model)
    jaw = anchor.emotions["neutral"]["jaw_pose"][:, 0]
    anchor = anchor.window(int((jaw - opening * float(jaw.max())).abs().argmin()), 1)
    sampler = world.identity_sampler(32)
    reenactor = world.reenactor(size)
    cells, names = [], []
    for seed in identity_seeds:
        person: Identity = sampler.sample(f"id-{seed}", int(seed))
        for emotion in EMOTIONS:
            cells.append(reenactor.reenact(person, anchor, emotion).frames[0, 0])
            names.append(f"{emotion} ({int(person.traits['age'])} y)")
    return image_grid(cells, ncols=len(EMOTIONS), labels=names if labels else None)
