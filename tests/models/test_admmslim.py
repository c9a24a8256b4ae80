"""ADMM SLIM: conformance, agreement with the closed form, and the optimality conditions of the constrained fit."""

import numpy as np
import scipy.sparse as sp

from fathom.models.admmslim import admm_slim_weights
from tests.models.conformance import RecommenderConformance


class TestADMMSLIM(RecommenderConformance):
    model_name = "admmslim"
    config = {"l2": 5.0, "dropout": 0.2, "l1": 0.5, "rho": 20.0, "iterations": 200}


def _data(seed: int = 1) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    return sp.csr_matrix((rng.random((60, 9)) < 0.35).astype(np.float32))


def test_unconstrained_admm_equals_the_closed_form():
    x = _data()
    g = (x.T @ x).toarray().astype(np.float64)
    lam = 4.0 + 0.5 / 0.5 * np.diag(g)  # l2 = 4, dropout = 0.5
    p = np.linalg.inv(g + np.diag(lam))
    closed = -p / np.diag(p)[None, :]  # EASE with a diagonal Lambda
    np.fill_diagonal(closed, 0.0)
    c, iterations = admm_slim_weights(x, 4.0, 0.5, l1=0.0, nonnegative=False, rho=10.0, iterations=2000, tol=1e-7)
    assert iterations < 2000
    np.testing.assert_allclose(c, closed, atol=1e-4)


def test_constrained_solution_satisfies_its_optimality_conditions():
    # min 1/2 ||X - XC||^2 + 1/2 sum_i lam_i ||C_i.||^2 + l1 |C|_1, C >= 0, diag C = 0: for every off-diagonal
    # entry the gradient (G + Lambda) C - G + l1 is 0 where C > 0 and >= 0 where C = 0
    x = _data(2)
    c, _ = admm_slim_weights(x, 3.0, 0.25, l1=1.0, nonnegative=True, rho=10.0, iterations=3000, tol=1e-8)
    c = c.astype(np.float64)
    g = (x.T @ x).toarray().astype(np.float64)
    lam = 3.0 + 0.25 / 0.75 * np.diag(g)
    grad = (g + np.diag(lam)) @ c - g + 1.0
    off = ~np.eye(9, dtype=bool)
    assert (c >= 0).all() and np.allclose(np.diag(c), 0)
    assert (c[off] > 0).any() and (c[off] == 0).any()
    active = off & (c > 1e-6)
    assert np.abs(grad[active]).max() < 1e-2
    assert grad[off & (c == 0)].min() > -1e-2
