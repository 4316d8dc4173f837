"""The linear head fitted as logistic regression: scikit-learn's solution, class weights, choice of C."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from musicgenre.errors import ConfigurationError
from musicgenre.training.logistic import choose_c, fit_logistic


def _blobs(
    rng: np.random.Generator, counts: list[int], dim: int = 6, spread: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    centres = rng.normal(0, 2.0, size=(len(counts), dim))
    x = np.concatenate([rng.normal(centres[k], spread, size=(n, dim)) for k, n in enumerate(counts)])
    y = np.concatenate([np.full(n, k) for k, n in enumerate(counts)])
    x = (x - x.mean(0)) / x.std(0)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y)


@pytest.mark.parametrize("c", [0.05, 1.0, 20.0])
def test_fit_is_scikit_learns_logistic_regression(rng: np.random.Generator, c: float) -> None:
    x, y = _blobs(rng, [30, 25, 40])
    fit = fit_logistic(x, y, 3, c=c)
    ref = LogisticRegression(C=c, tol=1e-10, max_iter=10_000).fit(x.double().numpy(), y.numpy())
    assert fit.converged
    np.testing.assert_allclose(fit.weight.numpy(), ref.coef_, atol=2e-3, rtol=2e-3)
    np.testing.assert_allclose(fit.bias.numpy(), ref.intercept_, atol=2e-3, rtol=2e-3)
    probs = torch.softmax(fit.logits(x), 1).numpy()
    np.testing.assert_allclose(probs, ref.predict_proba(x.double().numpy()), atol=1e-4)


def test_class_weights_are_scikit_learns_balanced_weights(rng: np.random.Generator) -> None:
    x, y = _blobs(rng, [60, 8, 20], spread=2.5)
    counts = torch.bincount(y).double()
    balanced = counts.sum() / (3 * counts)
    fit = fit_logistic(x, y, 3, c=0.5, class_weights=balanced)
    ref = LogisticRegression(C=0.5, class_weight="balanced", tol=1e-10, max_iter=10_000).fit(
        x.double().numpy(), y.numpy()
    )
    np.testing.assert_allclose(fit.weight.numpy(), ref.coef_, atol=2e-3, rtol=2e-3)


def test_class_weights_change_the_fit_on_unbalanced_data(rng: np.random.Generator) -> None:
    x, y = _blobs(rng, [80, 6], spread=3.0)
    plain = fit_logistic(x, y, 2, c=0.1)
    counts = torch.bincount(y).float()
    weighted = fit_logistic(x, y, 2, c=0.1, class_weights=counts.sum() / (2 * counts))
    minority = y == 1
    recall = {
        name: float((f.logits(x).argmax(1)[minority] == 1).float().mean())
        for name, f in (("plain", plain), ("weighted", weighted))
    }
    assert not torch.allclose(plain.weight, weighted.weight, atol=1e-3)
    assert recall["weighted"] >= recall["plain"]
    assert float(weighted.bias[1] - weighted.bias[0]) > float(plain.bias[1] - plain.bias[0])


def test_a_class_absent_from_the_targets_is_never_predicted(rng: np.random.Generator) -> None:
    x, y = _blobs(rng, [20, 20])
    fit = fit_logistic(x, y, 3)
    assert (fit.logits(x).argmax(1) != 2).all()


def test_choose_c_prefers_strong_regularisation_on_noise(rng: np.random.Generator) -> None:
    x = torch.tensor(rng.normal(size=(60, 20)), dtype=torch.float32)
    y = torch.tensor(rng.integers(0, 2, size=60))
    chosen = choose_c((x[:40], y[:40]), (x[40:], y[40:]), 2, grid=(0.001, 10.0))
    assert chosen == 0.001


def test_choose_c_prefers_a_weak_penalty_on_separable_data(rng: np.random.Generator) -> None:
    x, y = _blobs(rng, [15, 15], spread=0.3)
    # Too few validation tracks: folds over all 30 decide.
    chosen = choose_c((x[::2], y[::2]), (x[1::2][:5], y[1::2][:5]), 2, grid=(0.001, 10.0))
    assert chosen == 10.0


def test_bad_input_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="targets must be in"):
        fit_logistic(torch.zeros(2, 3), [0, 5], 2)
    with pytest.raises(ConfigurationError, match="c must be positive"):
        fit_logistic(torch.zeros(2, 3), [0, 1], 2, c=0.0)
    with pytest.raises(ConfigurationError, match="features"):
        fit_logistic(torch.zeros(0, 3), [], 2)


def test_more_features_than_tracks_gives_scikit_learns_solution_too(rng: np.random.Generator) -> None:
    # 40 tracks of 300-d features: solved over the tracks' coefficients (W = A X), same minimum.
    x, y = _blobs(rng, [12, 14, 14], dim=300, spread=3.0)
    for c in (0.01, 1.0):
        fit = fit_logistic(x, y, 3, c=c)
        ref = LogisticRegression(C=c, tol=1e-10, max_iter=20_000).fit(x.double().numpy(), y.numpy())
        assert fit.converged
        np.testing.assert_allclose(fit.weight.numpy(), ref.coef_, atol=1e-4)
        np.testing.assert_allclose(
            torch.softmax(fit.logits(x), 1).numpy(), ref.predict_proba(x.double().numpy()), atol=1e-4
        )
