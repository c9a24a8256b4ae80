"""ADMM SLIM: a sparse, non-negative linear item-item model solved by ADMM (Steck et al., WSDM 2020).

H. Steck, M. Dimakopoulou, N. Riabov, T. Jebara. "ADMM SLIM: Sparse Recommendations for Many Users."
WSDM 2020, https://doi.org/10.1145/3336191.3371774.

score(u, :) = x_u C, where C (I, I) minimises the SLIM objective

    1/2 ||X - X C||^2 + 1/2 ||Lambda^1/2 C||^2 + l1 |C|_1    subject to diag(C) = 0 and, by default, C >= 0.

The L2 term is diagonal: ``Lambda = l2 I + dropout / (1 - dropout) * diag(X^T X)``. Its second part is the
penalty that training with input dropout of probability ``dropout`` amounts to for a linear autoencoder
(Steck, "Autoencoders that don't overfit towards the identity", NeurIPS 2020), which penalises the weights of
popular items more; ``dropout = 0`` is the plain uniform L2 of SLIM / EASE. With ``l1 = 0``,
``nonnegative=False`` and enough iterations the solution is EASE's closed form with this ``Lambda``.

Solver (Algorithm 1 of the paper): with G = X^T X and P = (G + Lambda + rho I)^-1, repeat

    B~ = P G + P (rho C - Gamma);  B = B~ - P diagMat(diag(B~) / diag(P))   (equality-constrained ridge step)
    C = max(0, B + Gamma / rho - l1 / rho)   (soft threshold; without the max when not non-negative)
    Gamma += rho (B - C)

until the primal residual ||B - C|| and the dual residual rho ||C - C_prev|| are below ``tol`` relative to
||C||, or ``iterations`` is reached. Training time depends on the number of items only (besides forming G).
"""

from __future__ import annotations

from typing import Self

import numpy as np
import scipy.linalg.lapack
import scipy.sparse as sp
from pydantic import Field

from fathom.config import Config
from fathom.data.interactions import Interactions
from fathom.models.ease import ItemItemLinear


class ADMMSLIMConfig(Config):
    l2: float = Field(300.0, gt=0, description="uniform L2 weight lambda2")
    dropout: float = Field(
        0.5, ge=0, lt=1, description="extra L2 of dropout/(1-dropout) times each item's count (0: none)"
    )
    l1: float = Field(3.0, ge=0, description="L1 weight lambda1 (sparsity of C)")
    nonnegative: bool = Field(True, description="constrain the weights to C >= 0")
    rho: float = Field(1000.0, gt=0, description="ADMM penalty parameter")
    iterations: int = Field(50, ge=1, description="most ADMM iterations")
    tol: float = Field(1e-4, ge=0, description="stop when both residuals are below tol * ||C|| (0: never)")


def _spd_inverse(a: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive definite float32 matrix through its Cholesky factor."""
    factor, info = scipy.linalg.lapack.spotrf(a, lower=False, overwrite_a=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"ADMM SLIM system is not positive definite (LAPACK info {info})")
    inv, info = scipy.linalg.lapack.spotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"ADMM SLIM inverse failed (LAPACK info {info})")
    return np.triu(inv) + np.triu(inv, 1).T  # spotri fills the upper triangle only


def admm_slim_weights(
    x: sp.spmatrix,
    l2: float,
    dropout: float = 0.0,
    l1: float = 0.0,
    nonnegative: bool = True,
    rho: float = 1000.0,
    iterations: int = 50,
    tol: float = 1e-4,
) -> tuple[np.ndarray, int]:
    """The ADMM SLIM weights C (I, I) float32 for the (U, I) matrix ``x``, and the iterations run.

    See the module docstring for the objective and the updates.
    """
    x = sp.csc_matrix(x, dtype=np.float32)
    gram = (x.T @ x).toarray()  # (I, I) G
    counts = np.diag(gram).copy()  # (I,)
    reg = l2 + dropout / (1.0 - dropout) * counts  # (I,) diagonal of Lambda
    system = gram.copy()
    system[np.diag_indices_from(system)] += reg + rho
    p = _spd_inverse(system)  # (I, I) P = (G + Lambda + rho I)^-1
    p_diag = np.diag(p).copy()  # (I,)
    b_aux = p @ gram  # (I, I) P G
    c = np.zeros_like(gram)  # (I, I)
    gamma = np.zeros_like(gram)  # (I, I) scaled dual variable
    shift = l1 / rho
    done = 0
    for step in range(1, iterations + 1):
        done = step
        b_tilde = b_aux + p @ (rho * c - gamma)
        b = b_tilde - p * (np.diag(b_tilde) / p_diag)[None, :]  # columns shifted so that diag(B) = 0
        v = b + gamma / rho
        c_prev = c
        if nonnegative:
            c = np.maximum(v - shift, 0.0)
        else:
            c = np.sign(v) * np.maximum(np.abs(v) - shift, 0.0)
        gamma += rho * (b - c)
        if tol > 0:
            scale = max(float(np.linalg.norm(c)), 1e-12)
            primal = float(np.linalg.norm(b - c))
            dual = rho * float(np.linalg.norm(c - c_prev))
            if primal < tol * scale and dual < tol * scale * rho:
                break
    np.fill_diagonal(c, 0.0)
    return c.astype(np.float32), done


class ADMMSLIM(ItemItemLinear):
    """ADMM SLIM; memory O(n_items^2) (a few dense I x I matrices while fitting)."""

    name = "admmslim"
    Config = ADMMSLIMConfig
    config: ADMMSLIMConfig

    def fit(self, train: Interactions, valid: Interactions | None = None) -> Self:
        self._begin_fit(train)
        c = self.config
        self.history = train.csr()
        self.weights, iterations = admm_slim_weights(
            self.history, c.l2, c.dropout, c.l1, c.nonnegative, c.rho, c.iterations, c.tol
        )
        self.meta = {"iterations": iterations, "density": float(np.count_nonzero(self.weights)) / self.weights.size}
        self.fitted = True
        return self
