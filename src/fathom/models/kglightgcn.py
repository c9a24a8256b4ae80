"""KG-LightGCN: LightGCN over the collaborative knowledge graph (users, items and the items' KG entities).

The graph has the user-item edges of the interactions and the item-entity edges of the catalogue's knowledge graph
(``fit(..., item_entities=M)``, M the (n_items, F) item-entity matrix), each kind of edge weighted (``kg_weight``
for item-entity edges), symmetrically normalised as in LightGCN: ``A_hat = D^-1/2 A D^-1/2``. Users, items and
entities have free ego embeddings, propagated ``layers`` times without weights; a node's final embedding is the
mean of its layer embeddings and score(u, i) = <e_u, e_i>, trained with BPR as LightGCN. Entities carry signal
between items that share them (same director, same brand), so an item with few or no interactions still gets a
place: a cold item's final embedding comes from its entities.

``add_items(item_entities=rows)`` places a new item from its entities after training: with its ego embedding at
zero, its final embedding is the mean over layers of ``sum_e a_ie e_e^(k-1)``, ``a_ie`` its normalised entity
edges and ``e_e^(k)`` the entities' stored layer embeddings (buffers), the exact LightGCN propagation of a node
whose only edges are its entity links; nothing else moves.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import scipy.sparse as sp
import torch
from pydantic import Field
from torch import nn

from fathom.data.interactions import Interactions
from fathom.models._sparse import csr_from_state, csr_to_state
from fathom.models.kg_base import KGAware
from fathom.models.lightgcn import (
    LightGCN,
    LightGCNConfig,
    LightGCNNet,
    _LightGCNObjective,
    propagate,
    symmetric_normalise,
    to_torch_csr,
)
from fathom.models.torch_base import TorchRecommender


class KGLightGCNConfig(LightGCNConfig):
    kg_weight: float = Field(1.0, gt=0, description="weight of an item-entity edge (a user-item edge weighs 1)")


def kg_adjacency(interactions: sp.spmatrix, item_entities: sp.spmatrix, kg_weight: float) -> sp.csr_matrix:
    """(U + I + F, U + I + F) float32 CSR: ``D^-1/2 A D^-1/2`` of the graph with user-item edges (weight 1) and
    item-entity edges (``kg_weight``); users first, then items, then entities."""
    r = sp.csr_matrix(interactions, dtype=np.float32, copy=True)
    r.eliminate_zeros()
    r.data[:] = 1.0
    e = sp.csr_matrix(item_entities, dtype=np.float32, copy=True)
    e.eliminate_zeros()
    e.data[:] = kg_weight
    n_users, n_items = r.shape
    n_ent = e.shape[1]
    adj = sp.bmat([[None, r, sp.csr_matrix((n_users, n_ent), dtype=np.float32)],
                   [r.T, None, e],
                   [None, e.T, None]], format="csr", dtype=np.float32)
    return symmetric_normalise(adj)


class KGLightGCNNet(LightGCNNet):
    """LightGCN's net plus entity ego embeddings and the entities' layer embeddings (kept for new items); an item
    without training interactions has its ego embedding held at zero (``warm`` buffer), so it is placed by its
    entities alone, as an item added later is."""

    def __init__(self, n_users: int, n_items: int, n_entities: int, factors: int, layers: int,
                 init_std: float, warm: np.ndarray | None = None) -> None:
        super().__init__(n_users, n_items, factors, layers, init_std)
        self.n_items = n_items
        self.entity = nn.Embedding(n_entities, factors)
        nn.init.normal_(self.entity.weight, std=init_std)
        self.register_buffer("entity_layers", torch.zeros(layers + 1, n_entities, factors))
        mask = np.ones(n_items, np.float32) if warm is None else np.asarray(warm, np.float32)
        self.register_buffer("warm", torch.from_numpy(mask).reshape(-1, 1))

    def _ego(self) -> torch.Tensor:
        return torch.cat([self.user.weight, self.item.weight * self.warm, self.entity.weight])  # (U + I + F, d)

    def propagate(self, adj: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ego = self._ego()
        final = propagate(adj, ego, self.layers)
        return final[: self.n_users], final[self.n_users: self.n_users + self.n_items]

    @torch.no_grad()
    def refresh(self, adj: torch.Tensor) -> None:
        super().refresh(adj)
        layer = self._ego()
        start = self.n_users + self.n_items
        self.entity_layers[0].copy_(layer[start:])
        for k in range(self.layers):
            layer = adj @ layer
            self.entity_layers[k + 1].copy_(layer[start:])


class _KGObjective(_LightGCNObjective):
    """LightGCN's objective over the collaborative KG; negatives are drawn among items with training interactions
    (a cold item is never pushed down for being unseen: one that lands on a cold item is redrawn among the warm
    ones, which may rarely be one of the user's positives)."""

    def __init__(self, net: KGLightGCNNet, train: Interactions, config: KGLightGCNConfig,
                 item_entities: sp.csr_matrix) -> None:
        super().__init__(net, train, config)
        self.adj = to_torch_csr(kg_adjacency(train.csr(), item_entities, config.kg_weight))
        warm = net.warm.reshape(-1) > 0  # items with training interactions (the net holds the others at zero)
        self.cold = ~warm
        self.warm_items = torch.nonzero(warm).reshape(-1)

    def batches(self, rng: np.random.Generator, batch_size: int):
        for users, pos, neg in super().batches(rng, batch_size):
            cold = self.cold[neg]
            if bool(cold.any()) and len(self.warm_items):
                draws = torch.from_numpy(rng.integers(len(self.warm_items), size=int(cold.sum())))
                neg = neg.clone()
                neg[cold] = self.warm_items[draws]
            yield users, pos, neg


class KGLightGCN(KGAware, LightGCN):
    """LightGCN over users, items and KG entities (module docstring)."""

    name = "kglightgcn"
    Config = KGLightGCNConfig
    config: KGLightGCNConfig
    net: KGLightGCNNet

    def fit(self, train: Interactions, valid: Interactions | None = None, *, item_entities: Any = None,
            init_from: TorchRecommender | None = None) -> Self:
        self._begin_fit(train)
        self._set_item_entities(item_entities)
        self._warm = (np.bincount(train.item, minlength=self.n_items) > 0).astype(np.float32)  # (n,)
        return super().fit(train, valid, init_from=init_from)

    def _build_net(self) -> KGLightGCNNet:
        c = self.config
        return KGLightGCNNet(self.n_users, self.n_items, self.item_entities.shape[1], c.factors, c.layers,
                             c.init_std, getattr(self, "_warm", None))

    def _objective(self, net: KGLightGCNNet, train: Interactions) -> _KGObjective:
        return _KGObjective(net, train, self.config, self.item_entities)

    def _grow_items(self, new: sp.csr_matrix) -> None:
        """Final embeddings of the new items from their entities (module docstring); nothing else moves."""
        c = self.config
        net = self.net
        m = new.shape[0]
        degree_e = np.asarray(self.item_entities[: self.n_items - m].sum(axis=0)).ravel() * c.kg_weight  # (F,)
        degree_new = np.asarray(new.sum(axis=1)).ravel() * c.kg_weight  # (m,)
        inv_new = np.divide(1.0, np.sqrt(degree_new), out=np.zeros_like(degree_new), where=degree_new > 0)
        inv_e = np.divide(1.0, np.sqrt(degree_e), out=np.zeros_like(degree_e), where=degree_e > 0)
        a = sp.diags(inv_new) @ (new * c.kg_weight) @ sp.diags(inv_e)  # (m, F) normalised edges
        a = torch.from_numpy(np.asarray(a.todense(), dtype=np.float32))
        layers = [a @ net.entity_layers[k] for k in range(c.layers)]  # e_i^(k+1) = sum_e a_ie e_e^(k)
        final = (torch.stack(layers).sum(0) / (c.layers + 1)) if layers else torch.zeros(m, c.factors)
        grown = KGLightGCNNet(self.n_users, self.n_items, self.item_entities.shape[1], c.factors, c.layers,
                              c.init_std)
        state = net.state_dict()
        state["item.weight"] = torch.cat([state["item.weight"], torch.zeros(m, c.factors)])
        state["warm"] = torch.cat([state["warm"], torch.zeros(m, 1)])
        state["final_item"] = torch.cat([state["final_item"], final.float()])
        grown.load_state_dict(state)
        grown.eval()
        self.net = grown

    def _state(self) -> dict[str, np.ndarray]:
        return {**super()._state(), **csr_to_state("item_entities", self.item_entities)}

    def _load_state(self, state: dict[str, np.ndarray]) -> None:
        self.item_entities = csr_from_state("item_entities", state)
        net_state = {k: v for k, v in state.items() if not k.startswith("item_entities")}
        super()._load_state(net_state)
