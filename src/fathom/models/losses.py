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


SOFTMAX_STORE_BYTES = 256 * 2**20  # the (P, n) softmax is kept for the backward pass up to this size


class _ChunkedSoftmaxCE(torch.autograd.Function):
    """Mean cross-entropy of (P, d) states against all n items, (P, n) logits computed ``chunk`` rows at a time.

    The forward pass keeps the (P, n) softmax for the backward pass when it takes at most
    :data:`SOFTMAX_STORE_BYTES`; above that only the (P,) log-partition is kept and the backward pass recomputes
    each chunk's logits (one more catalogue-wide matrix product) instead. Both give bit for bit the same gradients;
    value and gradients equal ``F.cross_entropy(hidden @ table.T, targets)``'s, about twice as fast on a CPU.
    Returns the mean and the (P,) log-partitions (log-sum-exp of each row's logits), both differentiable.
    """

    @staticmethod
    def forward(ctx, hidden: torch.Tensor, table: torch.Tensor, targets: torch.Tensor,
                chunk: int) -> tuple[torch.Tensor, torch.Tensor]:
        ctx.set_materialize_grads(False)
        store = hidden.shape[0] * table.shape[0] * 4 <= SOFTMAX_STORE_BYTES
        probs = hidden.new_empty(hidden.shape[0], table.shape[0], dtype=torch.float32) if store else None  # (P, n)
        parts = []
        for start, h in zip(range(0, hidden.shape[0], chunk), hidden.split(chunk), strict=True):
            logits = h @ table.T  # (c, n)
            parts.append(torch.logsumexp(logits, dim=1))  # (c,)
            if probs is not None:
                torch.exp(logits.sub_(parts[-1][:, None]), out=probs[start : start + chunk])
        lse = torch.cat(parts)  # (P,)
        ctx.save_for_backward(hidden, table, targets, lse)
        ctx.chunk, ctx.probs = chunk, probs
        return (lse - (hidden * table[targets]).sum(1)).mean(), lse

    @staticmethod
    def backward(ctx, grad: torch.Tensor | None, grad_lse: torch.Tensor | None):
        hidden, table, targets, lse = ctx.saved_tensors
        if grad is None:
            grad = lse.new_zeros(())
        probs, ctx.probs = ctx.probs, None  # used up in place: a second backward recomputes
        scale = grad / hidden.shape[0]
        grad_hidden, grad_table = torch.empty_like(hidden), torch.zeros_like(table)
        for start in range(0, hidden.shape[0], ctx.chunk):
            h = hidden[start : start + ctx.chunk]  # (c, d)
            if probs is not None:
                p = probs[start : start + ctx.chunk]  # (c, n) softmax from the forward pass
            else:
                p = torch.addmm(-lse[start : start + ctx.chunk, None], h, table.T).exp_()  # (c, n) softmax
            rows = torch.arange(len(h))
            if grad_lse is None:
                p[rows, targets[start : start + ctx.chunk]] -= 1.0  # d loss / d logits, unscaled
                p *= scale
            else:  # d lse / d logits is the softmax too
                p *= scale + grad_lse[start : start + ctx.chunk, None]
                p[rows, targets[start : start + ctx.chunk]] -= scale
            grad_hidden[start : start + ctx.chunk] = p @ table  # (c, d)
            grad_table.addmm_(p.T, h)  # (n, d)
        return grad_hidden, grad_table, None, None


def full_softmax_loss(
    hidden: torch.Tensor, targets: torch.Tensor, table: torch.Tensor, chunk: int = 256, label_smoothing: float = 0.0,
    return_lse: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy over the whole catalogue: hidden (P, d), targets (P,) int64, table (n, d).

    ``label_smoothing`` = e puts 1 - e of the target mass on the true item and e uniformly on every item (as
    ``F.cross_entropy``): the loss is CE + e * (z_target - mean_j z_j), with the mean logit <hidden, mean(table)>.
    ``return_lse``: also return the (P,) log-partitions of the logits (differentiable), as ``(loss, lse)``.
    """
    if hidden.dtype != torch.float32 or table.dtype != torch.float32:
        logits = hidden @ table.T  # (P, n)
        value = F.cross_entropy(logits, targets, label_smoothing=label_smoothing)
        return (value, torch.logsumexp(logits, dim=1)) if return_lse else value
    value, lse = _ChunkedSoftmaxCE.apply(hidden, table, targets, chunk)
    if label_smoothing > 0:
        spread = ((hidden * (table[targets] - table.mean(0))).sum(-1)).mean()  # mean of z_target - mean_j z_j
        value = value + label_smoothing * spread
    return (value, lse) if return_lse else value
