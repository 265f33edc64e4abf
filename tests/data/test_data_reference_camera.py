"""Dataset items carry the reference image's camera (identity.json ``reference_camera``)."""

from __future__ import annotations

import dataclasses

import torch

from emoctl.data import PassThroughTracker, SyncedEmotionDataset, build_dataset
from synced_tiny import SMALL_EMOTIONS, TinyReenactor, make_rig, tiny_config, tiny_world


def test_identities_without_a_reference_camera_give_zeros(tiny_dataset):
    item = SyncedEmotionDataset(tiny_dataset, mode="self", frames_per_sample=2)[0]
    assert item["has_reference_camera"] is False
    assert torch.equal(item["reference_c2w"], torch.zeros(4, 4)) and torch.equal(item["reference_K"], torch.zeros(3, 3))


def test_reference_camera_is_read_from_identity_json(tmp_path):
    anchors, identities = tiny_world(num_identities=2, num_anchors=1)
    rigs = [make_rig(num_views=2) for _ in identities]
    identities = [dataclasses.replace(ident, reference_camera=type(rig)(rig.c2w[k:k + 1], rig.K[k:k + 1], rig.width, rig.height))
                  for k, (ident, rig) in enumerate(zip(identities, rigs))]
    build_dataset(anchors, identities, TinyReenactor(), PassThroughTracker(), tmp_path / "ds", config=tiny_config(),
                  emotions=SMALL_EMOTIONS, progress=False)
    dataset = SyncedEmotionDataset(tmp_path / "ds", mode="self", frames_per_sample=2, split="all")
    seen = {}
    for i in range(len(dataset)):
        item = dataset[i]
        seen[item["identity"]] = (item["reference_c2w"], item["reference_K"], item["has_reference_camera"])
    for k, ident in enumerate(identities):
        c2w, K, known = seen[ident.identity_id]
        assert known is True
        assert torch.equal(c2w, rigs[k].c2w[k]) and torch.equal(K, rigs[k].K[k])
    batch = torch.utils.data.default_collate([dataset[0], dataset[1]])
    assert batch["reference_c2w"].shape == (2, 4, 4) and batch["has_reference_camera"].dtype == torch.bool
