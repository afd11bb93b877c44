"""ROC AUC and the numpy logistic regression."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.compute.sentiment.evaluation import roc_auc
from pipeline.compute.sentiment.logreg import SparseRows, _objective, fit_logistic


def test_roc_auc_known_values() -> None:
    assert roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert roc_auc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.5
    # pairs (pos, neg): (0.35 > 0.1), (0.35 < 0.4), (0.8 > both) -> 3 of 4
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    with pytest.raises(ValueError):
        roc_auc([1, 1], [0.2, 0.3])


def toy() -> tuple[SparseRows, np.ndarray]:
    rows = [{0: 1.0}, {0: 1.0, 2: 1.0}, {1: 1.0}, {1: 1.0, 2: 1.0}, {2: 1.0}, {2: 1.0}]
    return SparseRows.from_dicts(rows, 3), np.array([1.0, 1.0, 0.0, 0.0, 0.5, 0.5])


def test_gradient_matches_finite_differences() -> None:
    x, y = toy()
    sw = np.full(len(y), 1 / len(y))
    params = np.array([0.3, -0.2, 0.1, 0.05])
    _, grad = _objective(params, x, y, sw, 0.1)
    for i in range(len(params)):
        step = np.zeros_like(params)
        step[i] = 1e-6
        numeric = (
            _objective(params + step, x, y, sw, 0.1)[0]
            - _objective(params - step, x, y, sw, 0.1)[0]
        ) / 2e-6
        assert grad[i] == pytest.approx(numeric, abs=1e-6)


def test_fit_learns_signs_and_ignores_neutral_feature() -> None:
    x, y = toy()
    w, b = fit_logistic(x, y, np.ones(len(y)), l2=0.01)
    assert w[0] > 1.0 and w[1] < -1.0
    assert abs(w[2]) < 0.05 and abs(b) < 0.05
    assert np.array_equal(x.dot(np.array([1.0, 2.0, 3.0])), np.array([1, 4, 2, 5, 3, 3]))
