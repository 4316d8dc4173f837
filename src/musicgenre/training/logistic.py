r"""A linear head fitted as the convex problem it is: multinomial logistic regression to convergence.

The pretrained recipe's head reads each track's mean backbone features, standardised. A
linear head on them is multinomial logistic regression, a convex problem with one
minimum: :func:`fit_logistic` finds it with SciPy's L-BFGS-B (full batch, float64, the
gradient in closed form), the objective being scikit-learn's ``LogisticRegression(C=c)``'s

.. math::

    \frac{1}{\sum_i s_i} \Big( \sum_i s_i \, \mathrm{CE}(W x_i + b, y_i)
    + \frac{1}{2c} \lVert W \rVert^2 \Big)

(sample weights :math:`s_i` from the class weights, the bias unpenalised), so the solution
is scikit-learn's to within the solvers' tolerance, with no dependence on epochs,
learning rates, batches or seeds. :func:`choose_c` picks the inverse regularisation
strength *c* on held-out tracks: the validation part, or, where that is too small to
say anything, stratified folds of the training and validation parts together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray
from torch.nn import functional as F

from musicgenre.errors import ConfigurationError

__all__ = ["C_GRID", "LogisticFit", "choose_c", "fit_logistic"]

#: The inverse regularisation strengths :func:`choose_c` tries (scikit-learn's ``C``).
C_GRID: tuple[float, ...] = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)


@dataclass(frozen=True)
class LogisticFit:
    """A fitted linear head: ``logits = features @ weight.T + bias``.

    Attributes
    ----------
    weight
        ``(n_classes, n_features)`` float32.
    bias
        ``(n_classes,)`` float32.
    c
        The inverse regularisation strength it was fitted with.
    converged
        Whether L-BFGS met its gradient tolerance within its iteration bound.
    """

    weight: torch.Tensor
    bias: torch.Tensor
    c: float
    converged: bool

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """``(n, n_features)`` -> ``(n, n_classes)`` logits."""
        return features.to(self.weight.dtype) @ self.weight.T + self.bias


def _sample_weights(targets: torch.Tensor, class_weights: torch.Tensor | None) -> torch.Tensor:
    if class_weights is None:
        return torch.ones(len(targets), dtype=torch.float64)
    return class_weights.to(torch.float64)[targets]


def fit_logistic(
    features: torch.Tensor,
    targets: Sequence[int] | torch.Tensor,
    n_classes: int,
    *,
    c: float = 1.0,
    class_weights: torch.Tensor | None = None,
    max_iter: int = 1000,
    tol: float = 1e-7,
    warm_start: LogisticFit | None = None,
) -> LogisticFit:
    """Multinomial logistic regression of *targets* on *features*, solved to convergence.

    Parameters
    ----------
    features
        ``(n, n_features)``; standardise them first (the head does, with the training
        tracks' mean and deviation), or the penalty weighs the features unequally.
    targets
        ``n`` class indices in ``[0, n_classes)``.
    n_classes
        Outputs of the head (a class absent from *targets* gets a bias pushing it down).
    c
        Inverse regularisation strength, as scikit-learn's ``C``: larger fits harder.
    class_weights
        ``(n_classes,)`` weight of each class's tracks in the loss (e.g.
        :func:`~musicgenre.training.heads.class_weights`), or ``None`` for equal weights.
    max_iter, tol
        L-BFGS's iteration bound and gradient tolerance.
    warm_start
        A fit of the same shape to start from (e.g. the one for a neighbouring *c*): the
        solution is the same, found in fewer iterations.

    Returns
    -------
    LogisticFit

    Raises
    ------
    ConfigurationError
        If there are no features, the shapes disagree, a target is out of range or *c* is not positive.

    Examples
    --------
    >>> x = torch.tensor([[-2.0], [-1.0], [1.0], [2.0]])
    >>> fit = fit_logistic(x, [0, 0, 1, 1], 2, c=10.0)
    >>> fit.logits(x).argmax(1).tolist(), fit.converged
    ([0, 0, 1, 1], True)
    """
    y = torch.as_tensor(targets, dtype=torch.long).reshape(-1)
    if features.dim() != 2 or len(features) == 0 or len(features) != len(y):
        raise ConfigurationError(f"need (n, n_features) features and n targets, got {tuple(features.shape)}, {len(y)}")
    if int(y.min()) < 0 or int(y.max()) >= n_classes:
        raise ConfigurationError(f"targets must be in [0, {n_classes}), got {sorted(set(y.tolist()))}")
    if not c > 0:
        raise ConfigurationError(f"c must be positive, got {c}")
    from scipy.optimize import minimize

    x = features.detach().to(torch.float64).numpy()
    labels = y.numpy()
    weights = _sample_weights(y, class_weights).numpy()
    total = float(weights.sum())
    k, d = n_classes, x.shape[1]
    rows = np.arange(len(labels))

    # With more features than tracks (1,506-d means of a few hundred tracks) the weights lie in
    # the span of the tracks' features, W = A X: the same minimum, solved over the (k, n)
    # coefficients A with the (n, n) Gram matrix, far fewer unknowns and operations.
    dual = d > len(labels)
    gram = x @ x.T if dual else x
    size = gram.shape[1]

    def objective(theta: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        a, b = theta[: k * size].reshape(k, size), theta[k * size :]
        logits = gram @ a.T + b
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        norm = exp.sum(axis=1)
        loss = np.log(norm) - logits[rows, labels]
        penalty = a @ gram if dual else a  # the gradient of 0.5 * |W|^2 in these coordinates
        value = (weights @ loss + 0.5 / c * float(np.sum(penalty * a))) / total
        grad_logits = exp / norm[:, None]
        grad_logits[rows, labels] -= 1.0
        grad_logits *= weights[:, None]
        grad_a = (grad_logits.T @ gram + penalty / c) / total
        grad_b = grad_logits.sum(axis=0) / total
        return float(value), np.concatenate([grad_a.ravel(), grad_b])

    start = np.zeros(k * size + k)
    if warm_start is not None and not dual:
        start = np.concatenate([warm_start.weight.double().numpy().ravel(), warm_start.bias.double().numpy()])
    result = minimize(
        objective, start, jac=True, method="L-BFGS-B", options={"maxiter": max_iter, "gtol": tol, "ftol": 1e-15}
    )
    theta = result.x
    coefficients = theta[: k * size].reshape(k, size)
    weight = torch.from_numpy(coefficients @ x if dual else coefficients).float()
    bias = torch.from_numpy(theta[k * size :].copy()).float()
    converged = bool(np.abs(objective(theta)[1]).max() <= tol * 10)
    return LogisticFit(weight, bias, float(c), converged)


def _log_loss(fit: LogisticFit, features: torch.Tensor, targets: torch.Tensor) -> float:
    return float(F.cross_entropy(fit.logits(features), targets))


def _folds(targets: torch.Tensor, k: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    labels = targets.numpy()
    return [(torch.as_tensor(a), torch.as_tensor(b)) for a, b in splitter.split(np.zeros(len(labels)), labels)]


def choose_c(
    train: tuple[torch.Tensor, Sequence[int] | torch.Tensor],
    validation: tuple[torch.Tensor, Sequence[int] | torch.Tensor] | None,
    n_classes: int,
    *,
    grid: Sequence[float] = C_GRID,
    class_weights: torch.Tensor | None = None,
    min_validation: int = 20,
    folds: int = 5,
    seed: int = 0,
) -> float:
    """The *c* of *grid* whose fit gives the held-out tracks the lowest log-loss.

    Held out: the *validation* tracks when there are at least *min_validation* of them;
    otherwise (a small folder) stratified *folds* over the training and validation tracks
    together, as many as the smallest class allows, the mean log-loss over folds deciding
    (with a class of a single track nothing can be held out: 1.0, scikit-learn's default).
    Ties go to the smaller *c* (the stronger regularisation).

    Parameters
    ----------
    train, validation
        ``(features, targets)`` pairs; *validation* may be ``None``.
    n_classes
        Outputs of the head.
    grid
        Candidate values of *c*.
    class_weights
        As in :func:`fit_logistic`; the held-out log-loss is unweighted.
    min_validation, folds, seed
        When to fall back to folds, how many, and their shuffle seed.

    Returns
    -------
    float
        The chosen *c*; with a single candidate, that one.

    Raises
    ------
    ConfigurationError
        If *grid* is empty.
    """
    if not grid:
        raise ConfigurationError("choose_c needs at least one candidate c")
    if len(grid) == 1:
        return float(grid[0])
    x_train, y_train = train[0], torch.as_tensor(train[1], dtype=torch.long)
    if validation is not None and len(validation[0]) >= min_validation:
        splits = [(x_train, y_train, validation[0], torch.as_tensor(validation[1], dtype=torch.long))]
    else:
        x_all, y_all = x_train, y_train
        if validation is not None and len(validation[0]):
            x_all = torch.cat([x_train, validation[0]])
            y_all = torch.cat([y_train, torch.as_tensor(validation[1], dtype=torch.long)])
        smallest = int(torch.bincount(y_all)[torch.bincount(y_all) > 0].min())
        k = min(folds, smallest)
        if k < 2:
            return 1.0  # a class of one track: nothing to hold out; scikit-learn's default
        splits = [(x_all[a], y_all[a], x_all[b], y_all[b]) for a, b in _folds(y_all, k, seed)]
    # Each split's fits go from the strongest regularisation to the weakest, each starting
    # from the last one's solution (the same minimum, found in fewer iterations).
    order = sorted(range(len(grid)), key=lambda i: grid[i])
    losses = np.zeros((len(splits), len(grid)))
    for s_i, (x_fit, y_fit, x_held, y_held) in enumerate(splits):
        previous: LogisticFit | None = None
        for i in order:
            previous = fit_logistic(
                x_fit, y_fit, n_classes, c=grid[i], class_weights=class_weights, warm_start=previous
            )
            losses[s_i, i] = _log_loss(previous, x_held, y_held)
    scores = losses.mean(axis=0).tolist()
    best = min(range(len(grid)), key=lambda i: (round(scores[i], 9), grid[i]))
    return float(grid[best])
