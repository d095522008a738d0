"""One accumulator of loss and accuracy for the training and evaluation loops.

It keeps the hot loop free of host synchronisation: batch losses wait in a list and are folded into a
float64 sum only when asked (the trainer's finiteness checks, the end of the loop), because appending a
detached tensor launches no kernel where an in-place add per step did. In-memory classification keeps
each batch's detached scores and takes one argmax over all of them at the fold, or as soon as more than
``_SCORES_MAX`` elements wait (which bounds the memory they hold): no kernel per step (an argmax per step
cost a few per cent of a small MLP's step; compare, sum and accumulate per step ~4 % more).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from qhybrid.classical.training.losses import LossInfo

__all__ = ["MetricAccumulator"]

_SCORES_MAX = 1 << 20  # waiting score elements before they are argmax'ed (4 MB in float32)


class MetricAccumulator:
    """Sums of loss, correct predictions and counts over the batches of one loop.

    Args:
        device: where the sums live (the batches' device).
        loss: the run's loss; accuracy is counted for cross-entropy (argmax) and BCE (logit > 0).
        defer: keep predicted classes until :meth:`fold` (in-memory batches, whose targets stay alive).
    """

    def __init__(self, device: torch.device, loss: LossInfo, defer: bool = False) -> None:
        self.loss = loss
        self.loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        self.correct = torch.zeros((), dtype=torch.long, device=device)
        self.n_seen = 0
        self.n_items = 0
        self.seq = False
        self.total_seen = self.total_items = 0.0  # over all ranks, set by compute()
        self._defer = defer and loss.name == "cross_entropy"
        self._losses: list[torch.Tensor] = []
        self._sizes: list[int] = []
        self._scores: list[torch.Tensor] = []  # detached outputs waiting for their argmax
        self._score_targets: list[torch.Tensor] = []
        self._n_scores = 0  # elements in _scores
        self._predictions: list[torch.Tensor] = []  # predicted classes of the argmax'ed scores
        self._targets: list[torch.Tensor] = []

    def update(self, loss: torch.Tensor, out: torch.Tensor, y: torch.Tensor, n: int) -> None:
        """Add one batch of ``n`` samples: its mean ``loss``, the model output ``out``, the targets ``y``."""
        self._losses.append(loss.detach())
        self._sizes.append(n)
        if self.loss.classify:
            if self._defer and out.dim() == 2:
                self._scores.append(out.detach())
                self._score_targets.append(y)
                self._n_scores += out.numel()
                if self._n_scores > _SCORES_MAX:
                    self._predict_waiting()
            elif self.loss.name == "cross_entropy":
                self.correct.add_((out.argmax(-1) == y).sum())  # integer result: no graph is recorded
            else:
                self.correct.add_(((out.detach().reshape(y.shape) > 0) == (y > 0.5)).sum())
        self.n_seen += n
        self.seq = out.dim() == 3
        self.n_items += y.numel() if self.seq else n

    def fold(self) -> torch.Tensor:
        """Fold the waiting batches into the sums; returns the loss sum (still on the device)."""
        if self._losses:
            sizes = torch.tensor(self._sizes, dtype=torch.float64, device=self.loss_sum.device)
            self.loss_sum.add_((torch.stack(self._losses).double() * sizes).sum())
            self._losses.clear()
            self._sizes.clear()
        self._predict_waiting()
        if self._predictions:
            self.correct.add_((torch.cat(self._predictions) == torch.cat(self._targets)).sum())
            self._predictions.clear()
            self._targets.clear()
        return self.loss_sum

    def _predict_waiting(self) -> None:
        """One argmax over the waiting scores; their predicted classes join ``_predictions``."""
        if not self._scores:
            return
        scores = self._scores[0] if len(self._scores) == 1 else torch.cat(self._scores)
        targets = self._score_targets[0] if len(self._score_targets) == 1 else torch.cat(self._score_targets)
        self._predictions.append(scores.argmax(-1))
        self._targets.append(targets)
        self._scores.clear()
        self._score_targets.clear()
        self._n_scores = 0

    def compute(self, all_reduce: Callable[[list[float]], list[float]], what: str) -> dict[str, float]:
        """``loss`` (mean per sample), ``acc`` (classification) and ``ppl`` (sequence cross-entropy) over
        all ranks (``all_reduce`` sums a list over them); sets ``total_seen`` and ``total_items``."""
        self.fold()
        loss, correct, seen, items = all_reduce(
            [float(self.loss_sum), float(self.correct), float(self.n_seen), float(self.n_items)]
        )
        if seen == 0:
            raise ValueError(f"{what} yielded no batches")
        out = {"loss": loss / seen}
        if self.loss.classify:
            out["acc"] = correct / items
        if self.seq and self.loss.name == "cross_entropy":
            out["ppl"] = math.exp(min(out["loss"], 50.0))
        self.total_seen, self.total_items = seen, items
        return out
