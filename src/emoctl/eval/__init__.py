"""Evaluation on held-out identities (layer 17): the reference backbones' self-reenactment quality
(:mod:`emoctl.eval.backbone_quality`); the paper's tables follow (issue 13)."""
