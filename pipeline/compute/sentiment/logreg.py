"""L2-regularised logistic regression on sparse rows, with numpy only.

Training needs nothing beyond numpy (no scikit-learn/scipy in the runtime
image); full-batch L-BFGS is deterministic, so ``train.py`` reproduces the
shipped weights exactly. Soft labels are allowed: neutral chat messages use
0.5, which pulls uninformative features towards zero weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SparseRows:
    """A CSR matrix: row ``i`` has ``indices/data[indptr[i]:indptr[i + 1]]``."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    n_cols: int

    @classmethod
    def from_dicts(cls, rows: list[dict[int, float]], n_cols: int) -> SparseRows:
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        indices = np.fromiter((k for r in rows for k in r), dtype=np.int64, count=indptr[-1])
        data = np.fromiter((v for r in rows for v in r.values()), dtype=np.float64)
        return cls(indptr, indices, data, n_cols)

    @property
    def n_rows(self) -> int:
        return len(self.indptr) - 1

    def _row_ids(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_rows), np.diff(self.indptr))

    def dot(self, w: np.ndarray) -> np.ndarray:
        return np.bincount(self._row_ids(), self.data * w[self.indices], self.n_rows)

    def tdot(self, g: np.ndarray) -> np.ndarray:
        return np.bincount(self.indices, self.data * g[self._row_ids()], self.n_cols)


def _objective(
    params: np.ndarray, x: SparseRows, y: np.ndarray, sw: np.ndarray, l2: float
) -> tuple[float, np.ndarray]:
    w, b = params[:-1], params[-1]
    z = x.dot(w) + b
    loss = float(np.sum(sw * (np.logaddexp(0.0, z) - y * z)) + 0.5 * l2 * w @ w)
    g = sw * (0.5 * (1.0 + np.tanh(0.5 * z)) - y)  # sigmoid(z) - y, overflow-free
    grad = np.empty_like(params)
    grad[:-1] = x.tdot(g) + l2 * w
    grad[-1] = g.sum()
    return loss, grad


def fit_logistic(
    x: SparseRows,
    y: np.ndarray,
    sample_weight: np.ndarray,
    l2: float,
    max_iter: int = 400,
    memory: int = 10,
    tol: float = 1e-7,
) -> tuple[np.ndarray, float]:
    """Weights and bias minimising weighted mean log-loss + ``l2/2 * |w|^2``."""
    sw = sample_weight / sample_weight.sum()
    params = np.zeros(x.n_cols + 1)
    loss, grad = _objective(params, x, y, sw, l2)
    s_hist: list[np.ndarray] = []
    y_hist: list[np.ndarray] = []
    for _ in range(max_iter):
        direction = -_two_loop(grad, s_hist, y_hist)
        slope = grad @ direction
        if slope >= 0:  # not a descent direction: restart from steepest descent
            s_hist.clear()
            y_hist.clear()
            direction, slope = -grad, -(grad @ grad)
        step = 1.0
        while True:
            new_params = params + step * direction
            new_loss, new_grad = _objective(new_params, x, y, sw, l2)
            if new_loss <= loss + 1e-4 * step * slope or step < 1e-10:
                break
            step *= 0.5
        s, yk = new_params - params, new_grad - grad
        if s @ yk > 1e-12:
            s_hist.append(s)
            y_hist.append(yk)
            if len(s_hist) > memory:
                s_hist.pop(0)
                y_hist.pop(0)
        improvement = loss - new_loss
        params, loss, grad = new_params, new_loss, new_grad
        if improvement < tol * max(1.0, abs(loss)):
            break
    return params[:-1], float(params[-1])


def _two_loop(grad: np.ndarray, s_hist: list[np.ndarray], y_hist: list[np.ndarray]) -> np.ndarray:
    q = grad.copy()
    alphas = []
    for s, yk in zip(reversed(s_hist), reversed(y_hist), strict=True):
        rho = 1.0 / (yk @ s)
        a = rho * (s @ q)
        alphas.append((rho, a))
        q -= a * yk
    if s_hist:
        q *= (s_hist[-1] @ y_hist[-1]) / (y_hist[-1] @ y_hist[-1])
    for (s, yk), (rho, a) in zip(zip(s_hist, y_hist, strict=True), reversed(alphas), strict=True):
        q += (a - rho * (yk @ q)) * s
    return q
