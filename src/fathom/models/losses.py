"""Training losses as pure functions of scores (logits).

Shapes: ``pos`` (B,) scores of observed pairs; ``neg`` (B,) or (B, k) scores of sampled negatives for the same
users. Every loss is a mean, so its scale does not depend on the batch size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bpr_loss(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """Bayesian personalised ranking (Rendle et al. 2009): mean of -log sigmoid(pos - neg).

    With ``neg`` (B, k) every positive is compared to each of its k negatives.
    """
    if neg.dim() == pos.dim() + 1:
        pos = pos.unsqueeze(-1)  # (B, 1)
    return F.softplus(neg - pos).mean()  # softplus(-x) == -log sigmoid(x), computed stably


def bce_loss(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """Pointwise binary cross-entropy: positives labelled 1, negatives 0, mean over all B * (1 + k) pairs."""
    total = F.softplus(-pos).sum() + F.softplus(neg).sum()  # -log sigmoid(pos), -log(1 - sigmoid(neg))
    return total / (pos.numel() + neg.numel())


def l2_penalty(*tensors: torch.Tensor) -> torch.Tensor:
    """Sum of squared entries of ``tensors`` divided by the length of the first one's first axis.

    With per-example tensors (B, ...) this is the L2 norm squared per training example.
    """
    return sum(t.pow(2).sum() for t in tensors) / tensors[0].shape[0]


class _BPRMFLoss(torch.autograd.Function):
    """BPR + per-example L2 for dot-product embeddings, with a hand-written backward.

    Autograd would build a dozen broadcast products per step; the gradient here is written out once:
    with x_bc = <u_b, v_bc> for the positive (c = 0) and negatives (c >= 1), d = x_bc - x_b0 and
    s = sigmoid(d) / (B k): dL/dx_bc = s_bc for c >= 1 and -sum_c s_bc for c = 0.
    """

    @staticmethod
    def forward(ctx, user_weight, item_weight, users, items, reg):
        b, width = items.shape
        u = user_weight.index_select(0, users)  # (B, d)
        v = item_weight.index_select(0, items.reshape(-1)).view(b, width, -1)  # (B, 1 + k, d)
        x = torch.bmm(v, u.unsqueeze(-1)).squeeze(-1)  # (B, 1 + k)
        diff = x[:, 1:] - x[:, :1]  # (B, k)
        loss = F.softplus(diff).mean()
        if reg > 0:
            flat_u, flat_v = u.reshape(-1), v.reshape(-1)
            loss = loss + reg * (flat_u.dot(flat_u) + flat_v.dot(flat_v)) / b
        ctx.save_for_backward(u, v, diff, users, items)
        ctx.reg, ctx.n_users, ctx.n_items = reg, user_weight.shape[0], item_weight.shape[0]
        return loss

    @staticmethod
    def backward(ctx, grad_out):
        u, v, diff, users, items = ctx.saved_tensors
        b, k = diff.shape
        s = torch.sigmoid(diff) * (grad_out / (b * k))  # (B, k)
        dx = torch.cat([-s.sum(1, keepdim=True), s], dim=1).unsqueeze(-1)  # (B, 1 + k, 1)
        grad_v = dx * u.unsqueeze(1)  # (B, 1 + k, d)
        grad_u = (dx * v).sum(1)  # (B, d)
        if ctx.reg > 0:
            scale = float(2 * ctx.reg / b * grad_out)
            grad_v.add_(v, alpha=scale)
            grad_u.add_(u, alpha=scale)
        grad_user = u.new_zeros(ctx.n_users, u.shape[1]).index_add_(0, users, grad_u)
        grad_item = v.new_zeros(ctx.n_items, v.shape[2]).index_add_(0, items.reshape(-1), grad_v.flatten(0, 1))
        return grad_user, grad_item, None, None, None


def bpr_mf_loss(
    user_weight: torch.Tensor, item_weight: torch.Tensor, users: torch.Tensor, items: torch.Tensor, reg: float = 0.0
) -> torch.Tensor:
    """BPR loss of dot-product scores plus ``reg`` times the per-example squared norms of the embeddings used.

    user_weight (n_users, d), item_weight (n_items, d); users (B,) int64; items (B, 1 + k) int64, column 0 the
    positive and columns 1.. the negatives. Equals ``bpr_loss(pos, neg) + reg * l2_penalty(u, v)`` on the
    gathered rows, with a fused backward that is cheaper than autograd's (dense gradients for both tables).
    """
    return _BPRMFLoss.apply(user_weight, item_weight, users, items, float(reg))


def view_contrastive_loss(
    z1: torch.Tensor, z2: torch.Tensor, labels: torch.Tensor | None = None, temperature: float = 1.0
) -> torch.Tensor:
    """InfoNCE between two views of the same B examples (e.g. two dropout masks of one sequence), as DuoRec's
    contrastive term (Qiu et al., WSDM 2022).

    z1, z2: (B, d) representations; labels: (B,) optional class of each example (for sequences, the next item):
    two different examples with the same label are not used as each other's negatives. Each of the 2B views is
    scored against the other 2B - 1 by dot product / ``temperature``; its positive is the other view of its own
    example; mean cross-entropy over the 2B views.
    """
    b = len(z1)
    z = torch.cat([z1, z2])  # (2B, d)
    sim = (z @ z.T) / temperature  # (2B, 2B)
    rows = torch.arange(2 * b, device=z.device)
    positive = torch.cat([rows[b:], rows[:b]])  # (2B,) index of the other view
    if labels is None:
        excluded = torch.eye(2 * b, dtype=torch.bool, device=z.device)
    else:
        both = torch.cat([labels, labels])  # (2B,)
        excluded = both[:, None] == both[None, :]  # (2B, 2B) self, own positive and same-label examples
    excluded[rows, positive] = False
    return F.cross_entropy(sim.masked_fill(excluded, float("-inf")), positive)
