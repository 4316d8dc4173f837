"""Prediction: genres and tags of whole tracks, one track pipeline configured twice.

:class:`GenreClassifier` (a trained genre model, from a checkpoint) and :class:`Tagger`
(a pretrained musicnn model) each configure a
:class:`~musicgenre.predict.pipeline.TrackPipeline`: decode -> front end -> windows ->
scorer -> reduce, for one track or many files on :func:`~musicgenre.parallel.map_files`.
They return the result types of :mod:`musicgenre.predict.results`: a :class:`Prediction`
or a :class:`TagResult` per track, a :class:`SegmentPrediction` per window of its
timeline, and a :class:`FailedPrediction` for a file that could not be used.

The modules: :mod:`~musicgenre.predict.results` (the result types),
:mod:`~musicgenre.predict.featurizer` (decoding, front end, windows),
:mod:`~musicgenre.predict.streaming` (long files block by block),
:mod:`~musicgenre.predict.pipeline` (the scorer, the reduction and the pipeline),
:mod:`~musicgenre.predict.classifier` and :mod:`~musicgenre.predict.tagger`;
:mod:`~musicgenre.predict.plots` draws a long recording's timeline (the ``plots`` extra,
imported on first use).
"""

from musicgenre.predict.classifier import GenreClassifier
from musicgenre.predict.results import FailedPrediction, Prediction, SegmentPrediction, TagResult
from musicgenre.predict.tagger import EmbeddingLayer, Tagger

__all__ = [
    "EmbeddingLayer",
    "FailedPrediction",
    "GenreClassifier",
    "Prediction",
    "SegmentPrediction",
    "TagResult",
    "Tagger",
]
