"""CSIM: identity similarity of two image batches under an :class:`~emoctl.metrics.protocols.IdentityEncoder`.

The paper (section 4.2.1) reports "CSIM (ArcFace cosine similarity)" for identity consistency:

    CSIM_i = <f(pred_i), f(target_i)> / (|f(pred_i)| |f(target_i)|)

with ``f`` the identity encoder (ArcFace there; any encoder here). 1 is the same identity
direction, 0 unrelated; the paper averages over the test set.
"""

from __future__ import annotations

import torch
from torch import Tensor

from emoctl.errors import ShapeError
from emoctl.metrics._judges import check_pair, judge_tensor
from emoctl.metrics.protocols import IdentityEncoder


def csim(encoder: IdentityEncoder, pred: Tensor, target: Tensor) -> Tensor:
    """``[N]`` cosine similarity of the identity embeddings of ``pred`` and ``target`` ``[N, H, W, 3]``.

    ``encoder`` maps ``[N, H, W, 3]`` to ``[N, D]`` embeddings; a zero embedding gives 0. Take
    ``.mean()`` for the paper's CSIM. Call under ``torch.no_grad()`` in evaluation.
    """
    check_pair(pred, target, "csim")
    n = pred.shape[0]
    a = judge_tensor(encoder(pred), "csim", "identity encoder", n, (None,))
    b = judge_tensor(encoder(target), "csim", "identity encoder", n, (None,))
    if a.shape != b.shape:
        raise ShapeError(
            f"csim: the identity encoder returned {tuple(a.shape)} for the prediction but {tuple(b.shape)} "
            "for the target (the embedding size D must not depend on the input)"
        )
    return torch.nn.functional.cosine_similarity(a, b, dim=-1, eps=1e-12)
