"""Experiments: a recipe run end to end on a dataset, with reports, plots and a checkpoint.

:mod:`~musicgenre.experiment.run` holds one run, :func:`run_experiment`, and the stages it
calls, each public so a script can run them one by one (``examples/reproduce_gtzan.py``
does): :func:`load_data`, :func:`~musicgenre.splits.split_indices`, :func:`train_model`,
:func:`evaluate_model` and :func:`write_run`. :mod:`~musicgenre.experiment.sweep` repeats
runs over recipes, schemes and seeds (:func:`results_table`, :func:`cv_folds`);
:mod:`~musicgenre.experiment.reevaluate` scores a saved model on one part of its split
(:func:`evaluate_checkpoint`); :mod:`~musicgenre.experiment.crossval` evaluates small
sets by cross-validation and trains the final model on every track (:func:`run_planned`,
:func:`run_cross_validated`). The experiment only calls the recipe's methods
(:class:`~musicgenre.recipes.Recipe`); it never asks which model class it trains.
"""

from musicgenre.experiment.crossval import (
    CrossValidation,
    cross_validate,
    describe_evaluation,
    run_cross_validated,
    run_planned,
)
from musicgenre.experiment.reevaluate import CheckpointEvaluation, evaluate_checkpoint
from musicgenre.experiment.run import (
    PART_NAMES,
    ExperimentResult,
    evaluate_model,
    evaluated_part,
    load_data,
    part_records,
    result_dict,
    run_experiment,
    train_model,
    write_run,
)
from musicgenre.experiment.sweep import cv_folds, results_table

__all__ = [
    "PART_NAMES",
    "CheckpointEvaluation",
    "CrossValidation",
    "ExperimentResult",
    "cross_validate",
    "cv_folds",
    "describe_evaluation",
    "evaluate_checkpoint",
    "evaluate_model",
    "evaluated_part",
    "load_data",
    "part_records",
    "result_dict",
    "results_table",
    "run_cross_validated",
    "run_experiment",
    "run_planned",
    "train_model",
    "write_run",
]
