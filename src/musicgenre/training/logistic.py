r"""A linear head fitted as the convex problem it is: multinomial logistic regression to convergence.

The pretrained recipe's head reads each track's mean backbone features, standardised. A
linear head on them is multinomial logistic regression, a convex problem with one
minimum: :func:`fit_logistic` finds it with L-BFGS (full batch, float64, strong-Wolfe line
search), the objective being scikit-learn's ``LogisticRegression(C=c)``'s

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
    x = features.detach().to(torch.float64)
    weights = _sample_weights(y, class_weights)
    total = float(weights.sum())
    weight = torch.zeros(n_classes, x.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
    solver = torch.optim.LBFGS(
        [weight, bias],
        lr=1.0,
        max_iter=max_iter,
        tolerance_grad=tol,
        tolerance_change=1e-12,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    def objective() -> torch.Tensor:
        solver.zero_grad()
        loss = F.cross_entropy(x @ weight.T + bias, y, reduction="none")
        value = ((weights * loss).sum() + 0.5 / c * (weight * weight).sum()) / total
        value.backward()  # type: ignore[no-untyped-call]
        return value

    with torch.enable_grad():
        solver.step(objective)  # type: ignore[no-untyped-call]
        objective()
    grads = [p.grad for p in (weight, bias) if p.grad is not None]
    converged = max(float(g.abs().max()) for g in grads) <= tol * 10
    return LogisticFit(weight.detach().float(), bias.detach().float(), float(c), converged)


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
        y_val = torch.as_tensor(validation[1], dtype=torch.long)
        scores = [
            _log_loss(fit_logistic(x_train, y_train, n_classes, c=c, class_weights=class_weights), validation[0], y_val)
            for c in grid
        ]
    else:
        x_all, y_all = x_train, y_train
        if validation is not None and len(validation[0]):
            x_all = torch.cat([x_train, validation[0]])
            y_all = torch.cat([y_train, torch.as_tensor(validation[1], dtype=torch.long)])
        smallest = int(torch.bincount(y_all)[torch.bincount(y_all) > 0].min())
        k = min(folds, smallest)
        if k < 2:
            return 1.0  # a class of one track: nothing to hold out; scikit-learn's default
        splits = _folds(y_all, k, seed)
        scores = []
        for c in grid:
            losses = []
            for fit_idx, held in splits:
                fit = fit_logistic(x_all[fit_idx], y_all[fit_idx], n_classes, c=c, class_weights=class_weights)
                losses.append(_log_loss(fit, x_all[held], y_all[held]))
            scores.append(float(np.mean(losses)))
    best = min(range(len(grid)), key=lambda i: (round(scores[i], 9), grid[i]))
    return float(grid[best])
