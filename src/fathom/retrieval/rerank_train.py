"""Fine-tuning a :class:`~fathom.retrieval.rerank.CrossEncoder` on training queries with mined negatives.

Data: for every training query, each judged relevant document (grade > 0) is a positive. A training group is
one positive and ``hard_negatives + random_negatives`` negatives:

- hard negatives: first-stage candidates (BM25 / hybrid top ``depth``) whose grade is lower than the
  positive's (unjudged counts as 0), so the model learns what the first stage gets wrong;
- random negatives: documents from the whole corpus with grade 0 / unjudged.

Groups are re-drawn every epoch (seeded). Losses (pure functions of a (G, 1 + n) logit matrix whose column 0
is the positive): ``softmax`` — listwise cross-entropy of the positive against its negatives; ``bce`` —
binary cross-entropy of every pair.

:func:`train_cross_encoder` trains a :class:`RerankObjective` in the shared loop
(:class:`fathom.models.training.Trainer`: AdamW with linear warm-up and decay, gradient clipping, an optional
wall-clock budget); it returns a :class:`TrainReport` (kept in the saved model's config.json by
:func:`save_trained`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from fathom.config import Config
from fathom.retrieval.rerank import CrossEncoder

RerankLoss = Literal["softmax", "bce"]


class RerankTrainConfig(Config):
    """Training settings; dumped next to the saved weights."""

    loss: RerankLoss = "softmax"
    epochs: int = 1
    groups_per_query: int = 1  # positives drawn per query per epoch
    hard_negatives: int = 5
    random_negatives: int = 2
    depth: int = 30  # first-stage candidates a hard negative is drawn from
    batch_groups: int = 4  # groups per optimiser step (pairs per step: batch_groups * (1 + negatives))
    lr: float = 3e-5
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: float = 0.1  # share of steps with a rising learning rate
    max_grad_norm: float = 1.0
    seed: int = 0
    max_minutes: float | None = None  # stop early (after a step) once this much wall clock has passed
    log_every: int = 20  # steps between log lines


@dataclass
class Group:
    """One training group: a query, its positive document and the negatives (texts)."""

    query: str
    positive: str
    negatives: list[str]


@dataclass
class TrainReport:
    steps: int = 0
    epochs_done: float = 0.0
    seconds: float = 0.0
    groups: int = 0
    losses: list[float] = field(default_factory=list)  # mean loss per log window
    stopped_early: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------- losses (pure)
def softmax_loss(logits):
    """Listwise: mean over groups of ``-log softmax(logits)[:, 0]``; ``logits`` (G, 1 + n), positive first."""
    import torch

    return torch.nn.functional.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.long))


def bce_loss(logits):
    """Pointwise: binary cross-entropy with label 1 for column 0 and 0 elsewhere; ``logits`` (G, 1 + n)."""
    import torch

    labels = torch.zeros_like(logits)
    labels[:, 0] = 1.0
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)


LOSSES: dict[str, Callable] = {"softmax": softmax_loss, "bce": bce_loss}


# ---------------------------------------------------------------------------- groups
def make_groups(
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
    candidates: Mapping[str, Sequence[str]],
    documents: Mapping[str, str],
    config: RerankTrainConfig,
    rng: random.Random,
) -> list[Group]:
    """One epoch of groups (shuffled). ``candidates``: first-stage ranked doc ids per query (hard negatives come
    from the first ``config.depth``); ``documents``: doc id -> text. Queries without a positive, or without
    any negative, give no group."""
    doc_ids = list(documents)
    n_neg = config.hard_negatives + config.random_negatives
    if n_neg < 1:
        raise ValueError("a group needs at least one negative (hard_negatives + random_negatives >= 1)")
    groups: list[Group] = []
    for qid, text in queries.items():
        grades = qrels.get(qid, {})
        positives = [d for d, g in grades.items() if g > 0 and d in documents]
        if not positives:
            continue
        for _ in range(config.groups_per_query):
            pos = rng.choice(positives)
            pool = [d for d in list(candidates.get(qid, ()))[: config.depth] if grades.get(d, 0) < grades[pos]]
            negs = rng.sample(pool, min(config.hard_negatives, len(pool)))
            tries = 0
            while len(negs) < n_neg and tries < 50 * n_neg and doc_ids:
                d = rng.choice(doc_ids)
                tries += 1
                if grades.get(d, 0) <= 0 and d not in negs:
                    negs.append(d)
            if negs:
                groups.append(Group(text, documents[pos], [documents[d] for d in negs]))
    rng.shuffle(groups)
    return groups


def _pad_group(group: Group, n: int, rng: random.Random) -> list[str]:
    """Exactly ``n`` negatives (repeated when the pool was short), so groups stack into one matrix."""
    negs = list(group.negatives)
    while len(negs) < n:
        negs.append(rng.choice(group.negatives))
    return negs[:n]


# ---------------------------------------------------------------------------- the objective
class RerankObjective:
    """The cross-encoder's training data and loss, for the shared :class:`~fathom.models.training.Trainer`:
    each epoch's groups (the first drawn up front, later ones re-drawn when the epoch starts), batches of
    ``batch_groups`` groups, the listwise or pairwise loss, the body and the head at their own rates; it keeps
    the counts and the mean loss of every ``log_every`` steps for the :class:`TrainReport`."""

    def __init__(self, model: CrossEncoder, queries: Mapping[str, str], qrels: Mapping[str, Mapping[str, int]],
                 candidates: Mapping[str, Sequence[str]], documents: Mapping[str, str], config: RerankTrainConfig,
                 log: Callable[[str], None]) -> None:
        self.model, self.config, self.log = model, config, log
        self._data = (queries, qrels, candidates, documents)
        self.rng = random.Random(config.seed)
        self.n_neg = config.hard_negatives + config.random_negatives
        self.first = make_groups(queries, qrels, candidates, documents, config, self.rng)
        if not self.first:
            raise ValueError("no training group: no query has a relevant document in `documents`")
        self.report, self._window, self._epoch = TrainReport(), [], 0
        self.total_steps = self.n_batches(config.batch_groups) * config.epochs

    def n_batches(self, batch_size: int) -> int:
        return -(-len(self.first) // batch_size)

    def batches(self, rng: np.random.Generator, batch_size: int) -> Iterator[list[Group]]:
        groups = self.first if self._epoch == 0 else make_groups(*self._data, self.config, self.rng)
        self._epoch += 1
        for s in range(0, len(groups), batch_size):
            yield groups[s : s + batch_size]

    def loss(self, chunk: list[Group]):  # noqa: ANN201 - a torch scalar
        qs = [g.query for g in chunk for _ in range(1 + self.n_neg)]
        ds = [d for g in chunk for d in [g.positive, *_pad_group(g, self.n_neg, self.rng)]]
        logits = self.model.logits(self.model.encode_pairs(qs, ds)).view(len(chunk), 1 + self.n_neg)  # (G, 1 + n)
        loss = LOSSES[self.config.loss](logits)
        self.report.steps += 1
        self.report.groups += len(chunk)
        self._window.append(loss.item())
        if self.report.steps % self.config.log_every == 0:
            self.report.losses.append(float(np.mean(self._window)))
            mean = np.mean(self._window)
            self.log(f"step {self.report.steps}/{self.total_steps} epoch {self._epoch} loss {mean:.4f}")
            self._window = []
        return loss

    def parameter_groups(self, lr: float) -> list[dict]:
        named = list(self.model.module.named_parameters())
        body = [p for n, p in named if n.startswith("encoder.")]
        head = [p for n, p in named if not n.startswith("encoder.")]  # head, scale
        return [{"params": body, "lr": lr}, {"params": head, "lr": self.config.head_lr}]

    def parameters(self):  # noqa: ANN201
        return self.model.module.parameters()

    def state_dict(self) -> dict:
        return self.model.module.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.model.module.load_state_dict(state)

    def train(self, mode: bool = True) -> None:
        self.model.module.train(mode)


def train_cross_encoder(
    model: CrossEncoder,
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
    candidates: Mapping[str, Sequence[str]],
    documents: Mapping[str, str],
    config: RerankTrainConfig | None = None,
    progress: bool = False,
    log: Callable[[str], None] = lambda _: None,
) -> TrainReport:
    """Fine-tune ``model`` in place on groups from :func:`make_groups` with the shared training loop (AdamW, the
    encoder and the head at their own rates, linear warm-up and decay, gradient clipping, a time budget);
    returns what happened."""
    from fathom.models.training import TrainConfig, Trainer

    config = config or RerankTrainConfig()
    if not queries:
        raise ValueError("no training queries")
    objective = RerankObjective(model, queries, qrels, candidates, documents, config, log)
    loop = TrainConfig(epochs=config.epochs, batch_size=config.batch_groups, optimizer="adamw", lr=config.lr,
                       weight_decay=config.weight_decay, grad_clip=config.max_grad_norm, lr_schedule="linear",
                       warmup=config.warmup, max_minutes=config.max_minutes, seed=config.seed, patience=None,
                       progress=progress)
    log(f"rerank training: {len(objective.first)} groups/epoch x {config.epochs} epochs, {1 + objective.n_neg} "
        f"pairs per group, {objective.total_steps} steps, loss {config.loss}")
    start = time.perf_counter()
    trainer = Trainer(loop)
    trainer.fit(objective)
    report = objective.report
    if objective._window:
        report.losses.append(float(np.mean(objective._window)))
    report.stopped_early = trainer.stopped_early
    if report.stopped_early:
        log(f"time budget of {config.max_minutes} min reached after {report.steps} steps")
    report.seconds = time.perf_counter() - start
    report.epochs_done = report.groups / max(1, len(objective.first))
    log(f"rerank training done: {report.steps} steps in {report.seconds / 60:.1f} min, last loss "
        f"{report.losses[-1]:.4f}")
    return report


def save_trained(
    model: CrossEncoder, folder: str | Path, config: RerankTrainConfig, report: TrainReport, info: dict | None = None
) -> Path:
    """Save ``model`` with its training config, report and ``info`` (e.g. collection, queries) in config.json."""
    return model.save(folder, {"config": config.to_dict(), "report": report.to_dict(), **(info or {})})
