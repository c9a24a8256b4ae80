"""TwoTower: a user tower over the history and an item tower over the item's frozen text vector (plus an ID).

Item tower: ``v_j = normalise(A t_j + w_j q_j)``: t_j the item's text vector (d), A a linear adaptor (d -> dim,
or a one-hidden-layer GELU network with ``hidden`` units), q_j an ID embedding (dim) and ``w_j`` 1 for an item
with training interactions, 0 for one without (cold, or added by ``add_items``): a cold item is its text alone.
During training each item's ID term is dropped with probability ``id_dropout`` per batch, so the text-only vector
is trained to stand alone.

User tower: ``u = normalise(C mean_{i in H} t_i + mean_{i in H} w_i c_i)`` over the history H: C a linear adaptor
(d -> dim) and c_i a second ID embedding (the item as context). No user ID: any history is folded in exactly,
and a known user is their training history.

Score ``<u, v_j> / temperature``. Training: each training pair (user, item) is predicted from the user's other
training items with a full softmax over every item (cross-entropy), in the shared :class:`Trainer`.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from fathom.data.interactions import Interactions
from fathom.models._sparse import csr_from_state, csr_to_state
from fathom.models.text_base import TextAware, check_item_vectors
from fathom.models.torch_base import TorchConfig, TorchRecommender, copy_overlap
from fathom.models.training import Objective, OptimizerName


class TwoTowerConfig(TorchConfig):
    dim: int = Field(64, ge=1, description="size of the user and item vectors")
    hidden: int = Field(0, ge=0, description="hidden units of the item text adaptor; 0: a linear adaptor")
    id_embeddings: bool = Field(True, description="add a learnt ID embedding to warm items (both towers)")
    id_dropout: float = Field(0.5, ge=0, le=1, description="chance that an item's ID term is dropped in a batch")
    temperature: float = Field(0.1, gt=0, description="scores are cosines divided by this")
    # defaults: the validation choice on amazon_scientific (benchmarks/results/text-rec/general_tuning.md)
    epochs: int = 100
    batch_size: int = 512
    optimizer: OptimizerName = "adam"
    lr: float = 1e-3
    patience: int | None = 5


class TwoTowerNet(nn.Module):
    """The two towers; ``warm`` (n,) is 1 for items whose ID term counts."""

    def __init__(self, n_items: int, text_dim: int, cfg: TwoTowerConfig) -> None:
        super().__init__()
        self.item_adaptor: nn.Module = (nn.Linear(text_dim, cfg.dim) if cfg.hidden == 0 else
                                        nn.Sequential(nn.Linear(text_dim, cfg.hidden), nn.GELU(),
                                                      nn.Linear(cfg.hidden, cfg.dim)))
        self.user_adaptor = nn.Linear(text_dim, cfg.dim)
        self.item_id = nn.Embedding(n_items, cfg.dim)
        self.context_id = nn.Embedding(n_items, cfg.dim)
        nn.init.normal_(self.item_id.weight, std=0.01)
        nn.init.normal_(self.context_id.weight, std=0.01)
        self.register_buffer("warm", torch.zeros(n_items))
        self.use_ids = cfg.id_embeddings

    def items(self, text: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """(n, dim) unit item vectors from text (n, d); ``keep`` (n,) masks ID terms further (training)."""
        v = self.item_adaptor(text)  # (n, dim)
        if self.use_ids:
            w = self.warm if keep is None else self.warm * keep
            v = v + w[:, None] * self.item_id.weight
        return F.normalize(v, dim=-1)

    def users(self, rows: torch.Tensor, text: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """(B, dim) unit user vectors from history rows (B, n) sparse, each summing to 1, and text (n, d)."""
        u = self.user_adaptor(torch.sparse.mm(rows, text))  # (B, d) -> (B, dim)
        if self.use_ids:
            w = self.warm if keep is None else self.warm * keep
            u = u + torch.sparse.mm(rows, w[:, None] * self.context_id.weight)  # (B, dim)
        return F.normalize(u, dim=-1)


def history_rows(x: sp.csr_matrix) -> torch.Tensor:
    """(B, n) float32 sparse COO tensor of the rows of ``x``, each divided by its sum (empty rows stay empty)."""
    x = sp.csr_matrix(x, dtype=np.float32)
    sums = np.asarray(x.sum(axis=1)).ravel()
    x = sp.diags(1.0 / np.where(sums > 0, sums, 1.0)) @ x
    coo = x.tocoo()
    index = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    return torch.sparse_coo_tensor(index, torch.from_numpy(coo.data), x.shape, check_invariants=False).coalesce()


class _TwoTowerObjective(Objective):
    """Batches of training pairs (user, item); the history is the user's other training items."""

    def __init__(self, net: TwoTowerNet, train: Interactions, text: torch.Tensor, cfg: TwoTowerConfig) -> None:
        super().__init__(net)
        self.x = train.csr()  # (U, n)
        self.pairs = self.x.tocoo()
        self.text, self.cfg = text, cfg

    def n_batches(self, batch_size: int) -> int:
        return -(-self.pairs.nnz // batch_size)

    def batches(self, rng: np.random.Generator, batch_size: int):
        order = rng.permutation(self.pairs.nnz)
        for start in range(0, len(order), batch_size):
            pick = order[start : start + batch_size]
            users, items = self.pairs.row[pick], self.pairs.col[pick]
            target = sp.csr_matrix((np.ones(len(pick), np.float32), (np.arange(len(pick)), items)),
                                   shape=(len(pick), self.x.shape[1]))
            rows = self.x[users] - target  # (B, n) the history without the target
            rows.eliminate_zeros()
            keep = torch.from_numpy((rng.random(self.x.shape[1]) >= self.cfg.id_dropout).astype(np.float32))
            yield history_rows(rows), torch.from_numpy(items.astype(np.int64)), keep

    def loss(self, batch: Any) -> torch.Tensor:
        rows, items, keep = batch  # (B, n) sparse, (B,), (n,)
        u = self.net.users(rows, self.text, keep)  # (B, dim)
        v = self.net.items(self.text, keep)  # (n, dim)
        return F.cross_entropy(u @ v.T / self.cfg.temperature, items)  # full softmax over (B, n) logits


class TwoTower(TextAware, TorchRecommender):
    """History tower and text (+ ID) item tower with a full softmax (module docstring)."""

    name = "twotower"
    Config = TwoTowerConfig
    config: TwoTowerConfig

    def fit(self, train: Interactions, valid: Interactions | None = None, *, item_vectors: Any = None,
            init_from: TwoTower | None = None) -> Self:
        self.item_text = check_item_vectors(item_vectors, train.n_items)
        self.history = train.csr()
        self._cache: torch.Tensor | None = None
        super().fit(train, valid, init_from=init_from)
        self._cache = None
        return self

    def _build_net(self) -> TwoTowerNet:
        return TwoTowerNet(self.n_items, self.item_text.shape[1], self.config)

    def _objective(self, net: TwoTowerNet, train: Interactions) -> _TwoTowerObjective:
        net.warm.copy_(torch.from_numpy((train.item_counts() > 0).astype(np.float32)))
        return _TwoTowerObjective(net, train, torch.from_numpy(self.item_text), self.config)

    def _item_matrix(self) -> torch.Tensor:
        """(n, dim) unit item vectors of the network as it is now (eval mode)."""
        return self.net.items(torch.from_numpy(self.item_text))

    def _score_net(self, users: torch.Tensor) -> torch.Tensor:
        rows = history_rows(self.history[users.numpy()])
        u = self.net.users(rows, torch.from_numpy(self.item_text))  # (B, dim)
        return u @ self._item_matrix().T / self.config.temperature  # (B, n)

    def score_history(self, history: np.ndarray, user: int | None = None,
                      popularity: np.ndarray | None = None, weights: np.ndarray | None = None) -> np.ndarray:
        """Any history folded in through the user tower (``weights``: each item's share of the mean); an empty
        history gives ``popularity``."""
        self._check_fitted()
        history = self._check_ids(np.asarray(history, dtype=np.int64), self.n_items, "history item")
        if len(history) == 0:
            return np.zeros(self.n_items, np.float32) if popularity is None else np.asarray(popularity, np.float32)
        w = np.ones(len(history), np.float32) if weights is None else np.asarray(weights, np.float32)
        history, first = np.unique(history, return_index=True)
        row = sp.csr_matrix((w[first], (np.zeros(len(history), int), history)), shape=(1, self.n_items))
        with torch.no_grad():
            if getattr(self, "_cache", None) is None:
                self._cache = self._item_matrix()
            u = self.net.users(history_rows(row), torch.from_numpy(self.item_text))  # (1, dim)
            return (u @ self._cache.T / self.config.temperature)[0].numpy().astype(np.float32)

    def item_vectors(self) -> np.ndarray:
        self._check_fitted()
        with torch.no_grad():
            return self._item_matrix().numpy()

    def _grow_items(self, m: int) -> None:
        old = self.net
        self.net = self._build_net()
        copy_overlap(self.net, old)  # old rows kept; the new items' warm flag stays 0: their text only
        self.net.eval()
        self.history = sp.csr_matrix((self.history.data, self.history.indices, self.history.indptr),
                                     shape=(self.history.shape[0], self.n_items))
        self._cache = None

    def _state(self) -> dict[str, np.ndarray]:
        return {**super()._state(), "item_text": self.item_text, **csr_to_state("history", self.history)}

    def _load_state(self, state: dict[str, np.ndarray]) -> None:
        state = dict(state)
        self.item_text = state.pop("item_text")
        self.history = csr_from_state("history", state)
        net_state = {k: v for k, v in state.items() if not k.startswith("history.")}
        self._cache = None
        super()._load_state(net_state)
