"""Whole-track genre prediction with a trained model: ``GenreClassifier``.

A track of any length is decoded, mixed to mono and resampled to the model's rate; its
log-mel spectrogram is computed once, for the whole track, and cut into the model's
windows (every ``hop_frames`` frames; the last window, and a track shorter than one
window, padded with the dB of silence), each finished on its own (``top_db`` below the
window's peak). The windows go through the model in batches and their softmax
probabilities are averaged, each weighted by the share of it that holds audio, so a
track ending 0.1 s into its last window is not swayed by a window of silence.

This is the arithmetic evaluation runs on the feature store
(:mod:`musicgenre.audio.windowing` cuts the windows, :mod:`musicgenre.models.scoring`
averages them), so a checkpoint's reported accuracy is what prediction delivers. By
default :meth:`GenreClassifier.from_checkpoint` serves the windows the model was
evaluated with: the first window only (the first 5 s) for the reference recipe, windows
covering the whole track for the improved one. A model with its own front end (the
pretrained recipe's musicnn backbone) says so with a ``front_end()`` method, and its
windows are cut from that front end's frames.

The classifier configures the track pipeline it shares with tagging
(:class:`~musicgenre.predict.pipeline.TrackPipeline`). Speed and memory: it runs an
eval-mode copy of the model made by :func:`~musicgenre.models.fast.optimize_for_inference`
(batch-norm folded into the convolutions, channels-last weights; ``optimize=False`` runs
the model as given) under ``torch.inference_mode``. For the ``"first"`` window only the
start of a file is decoded. A file longer than ``stream_seconds`` (10 minutes by default)
is decoded block by block and its windows scored as they complete
(:mod:`musicgenre.predict.streaming`): memory stays bounded for any length, and the
timeline can be written as it goes (``on_segment``). :meth:`GenreClassifier.predict_many`
runs on :func:`~musicgenre.parallel.map_files`: worker processes (one per usable core by
default, see :func:`~musicgenre.parallel.default_workers`) each decode a file, compute its
features and, on the CPU, run the model on its windows, so only logits come back;
warnings about a file raised in a worker (:class:`~musicgenre.errors.TruncatedAudioWarning`,
:class:`~musicgenre.errors.DecoderWarning`) are issued again here, once per file, and kept
in :attr:`Prediction.warnings <musicgenre.predict.results.Prediction.warnings>`.

>>> import tempfile
>>> from musicgenre.genres import GENRES
>>> from musicgenre.models import GenreCNN, save_checkpoint
>>> path = save_checkpoint(tempfile.mkdtemp() + "/model.ckpt", GenreCNN(seed=0), classes=GENRES)
>>> classifier = GenreClassifier.from_checkpoint(path)
>>> prediction = classifier.predict(torch.zeros(2, 44100), sample_rate=44100, top_k=2)
>>> len(prediction.top_k), prediction.segments
(2, 1)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import torch

from musicgenre._config import StrPath
from musicgenre.audio.transforms import FeatureConfig
from musicgenre.audio.windowing import FrontEnd, LogMelFrontEnd, Windowing, WindowMode
from musicgenre.device import resolve_device
from musicgenre.errors import CheckpointError, ConfigurationError
from musicgenre.models.checkpoint import load_checkpoint
from musicgenre.models.fast import optimize_for_inference
from musicgenre.models.protocol import GenreModel
from musicgenre.predict.featurizer import Featurizer, SlidingWindows, Waveform
from musicgenre.predict.pipeline import Scorer, SegmentCallback, SoftmaxAverage, TrackOutput, TrackPipeline
from musicgenre.predict.results import FailedPrediction, Prediction, SegmentPrediction, check_top_k, rank

__all__ = ["GenreClassifier"]


class GenreClassifier:
    """Predict the genre of whole tracks with a trained model (any :class:`~musicgenre.models.GenreModel`).

    Parameters
    ----------
    model
        The trained model; it is put in eval mode on *device*.
    classes
        Label names in the model's output order.
    features
        The feature settings the model was trained with (default: the reference's). Their
        ``n_frames`` (``clip_samples`` of audio) is the window length.
    windowing
        Which windows to score and how to average them
        (:class:`~musicgenre.audio.windowing.Windowing`): ``mode="all"`` (windows covering
        the whole track) or ``"first"`` (the first window only, as the reference recipe is
        evaluated), the hop in frames, and the averaging rule. Default: all windows, back to
        back, probabilities averaged.
    overlap
        Shorthand for ``windowing=Windowing.from_overlap(overlap, n_frames)``: all windows,
        each overlapping the next by this fraction, in ``[0, 1)`` (0.5: a new window every
        half window). Not together with *windowing*.
    batch_size
        Windows per forward pass.
    device
        ``"cpu"``, ``"cuda"``, ``"auto"``...
    optimize
        Run :func:`~musicgenre.models.fast.optimize_for_inference`'s copy of the model
        (batch-norm folded, channels-last: the same outputs within float rounding, about
        1e-6). ``False`` runs *model* itself.
    stream_seconds
        Files longer than this are decoded and scored block by block, in bounded memory
        (log-mel models, ``"all"`` windows).
    block_seconds
        Seconds of audio decoded per block when streaming.

    Attributes
    ----------
    model : torch.nn.Module
        What runs: the optimised copy (or *model* itself with ``optimize=False``), in eval
        mode on *device*.
    windowing : Windowing
        The windows scored.
    hop : int
        Samples between window starts, ``hop_frames * hop_length``.
    pipeline : TrackPipeline
        The track pipeline it runs (:class:`~musicgenre.predict.pipeline.TrackPipeline`).

    Raises
    ------
    ConfigurationError
        If *classes* or *features* do not fit the model, or *overlap* or *batch_size* is out of range.

    Examples
    --------
    >>> from musicgenre.genres import GENRES
    >>> from musicgenre.models import GenreCNN
    >>> classifier = GenreClassifier(GenreCNN(seed=0), GENRES, overlap=0.5)
    >>> prediction = classifier.predict(torch.zeros(22050 * 12), timeline=True)
    >>> prediction.segments, [s.start for s in prediction.timeline][:3]
    (4, [0.0, 2.507..., 5.015...])
    >>> round(sum(prediction.probabilities.values()), 4)
    1.0
    """

    def __init__(
        self,
        model: GenreModel,
        classes: Sequence[str],
        features: FeatureConfig | None = None,
        *,
        windowing: Windowing | None = None,
        overlap: float | None = None,
        batch_size: int = 32,
        device: str | torch.device = "cpu",
        optimize: bool = True,
        stream_seconds: float = 600.0,
        block_seconds: float = 30.0,
    ) -> None:
        self.features = features or FeatureConfig()
        self.classes = tuple(classes)
        _check_fits(model, self.classes, self.features)
        if windowing is not None and overlap is not None:
            raise ConfigurationError("pass windowing or overlap, not both")
        if overlap is not None:
            windowing = Windowing.from_overlap(overlap, self.features.n_frames)
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be at least 1, got {batch_size}")
        self.windowing = windowing or Windowing()
        if not (stream_seconds > 0 and block_seconds > 0):
            raise ConfigurationError(
                f"stream_seconds and block_seconds must be positive, got {stream_seconds}, {block_seconds}"
            )
        self.batch_size = batch_size
        self.device = resolve_device(device) if isinstance(device, str) else device
        model = model.to(self.device)
        self.model: torch.nn.Module = optimize_for_inference(model) if optimize else model.eval()
        self.hop = self.windowing.hop(self.features.n_frames) * self.features.hop_length
        # A model with its own front end (a pretrained backbone's, e.g. musicnn's) says so.
        make_front_end = getattr(model, "front_end", None)
        front_end: FrontEnd = make_front_end() if callable(make_front_end) else LogMelFrontEnd(self.features)
        scorer = Scorer(self.model, batch_size=batch_size, device=self.device, pad_value=front_end.silence)
        featurizer = Featurizer(
            front_end,
            SlidingWindows(self.windowing),
            keep_frames=scorer.shares,
            stream_seconds=stream_seconds,
            block_seconds=block_seconds,
        )
        self.pipeline = TrackPipeline(featurizer, scorer, SoftmaxAverage(self.windowing.average), labels=self.classes)

    @property
    def overlap(self) -> float:
        """Fraction of a window that the next one overlaps (0 for back-to-back windows and for ``"first"``)."""
        if self.windowing.mode == "first":
            return 0.0
        n = self.features.n_frames
        return max(0.0, 1.0 - self.windowing.hop(n) / n)

    @classmethod
    def from_checkpoint(
        cls,
        path: StrPath,
        *,
        windows: WindowMode | None = None,
        overlap: float | None = None,
        batch_size: int = 32,
        device: str | torch.device = "cpu",
        optimize: bool = True,
    ) -> GenreClassifier:
        """Load a checkpoint written by :func:`~musicgenre.models.checkpoint.save_checkpoint`.

        By default the classifier scores the windows the model's recipe was evaluated with,
        as the checkpoint records them (``windowing``; older files: ``eval_hop``), so its
        predictions are those behind the checkpoint's reported accuracy. A checkpoint that
        records neither gets all windows, back to back.

        Parameters
        ----------
        path
            The ``.ckpt`` file.
        windows
            Override the mode: ``"all"`` scores windows covering the whole track even for a
            model evaluated on its ``"first"`` window (the reference recipe): usually
            better on long tracks, but not what the model's reported accuracy measured;
            ``"first"`` scores the first window only.
        overlap
            Override the hop: all windows, overlapping by this fraction (implies
            ``windows="all"``).
        batch_size, device, optimize
            See the class.

        Raises
        ------
        CheckpointError
            If the file is bad (see :func:`~musicgenre.models.checkpoint.load_checkpoint`) or its
            feature settings do not fit its model.
        """
        dev = resolve_device(device) if isinstance(device, str) else device
        checkpoint = load_checkpoint(path, map_location=dev)
        try:
            _check_fits(checkpoint.model, checkpoint.classes, checkpoint.features)
            stored = checkpoint.windowing
            if overlap is not None:
                if windows == "first":
                    raise ConfigurationError("overlap applies to windows='all', not 'first'")
                windowing = Windowing.from_overlap(overlap, checkpoint.features.n_frames, average=stored.average)
                windowing = replace(windowing, tail=stored.tail)
            elif windows == "all" and stored.mode == "first":
                windowing = Windowing("all", None, stored.average)
            elif windows is not None:
                windowing = Windowing(windows, stored.hop_frames, stored.average, stored.tail)
            else:
                windowing = stored
        except ConfigurationError as exc:
            raise CheckpointError(str(exc), path=Path(path)) from None
        return cls(
            checkpoint.model,
            checkpoint.classes,
            checkpoint.features,
            windowing=windowing,
            batch_size=batch_size,
            device=dev,
            optimize=optimize,
        )

    # -- one track ----------------------------------------------------------------------
    def load(self, path: StrPath) -> torch.Tensor:
        """Decode *path*, mixed to mono at the model's rate: shape ``(time,)``.

        Raises
        ------
        AudioDecodeError
            If the file is missing, empty, corrupt or in an unsupported format.
        """
        return self.pipeline.featurizer.load(path)

    def _prediction(self, output: TrackOutput, top_k: int) -> Prediction:
        ranked, probabilities = rank(self.classes, output.probabilities, top_k)
        return Prediction(
            path=output.path,
            top_k=ranked,
            probabilities=probabilities,
            duration=output.duration,
            segments=output.windows,
            timeline=output.timeline,
            warnings=output.warnings,
        )

    def predict(
        self,
        source: StrPath | Waveform,
        *,
        sample_rate: int | None = None,
        top_k: int = 3,
        timeline: bool = False,
        on_segment: SegmentCallback | None = None,
    ) -> Prediction:
        """Predict the genre of one whole track.

        Parameters
        ----------
        source
            An audio file (WAV, FLAC, OGG, MP3, AU, AIFF; any rate, any channel count), or a
            waveform of shape ``(time,)`` or ``(channels, time)`` (tensor or array).
        sample_rate
            Rate of a waveform *source*; ``None`` means the model's. Ignored for files.
        top_k
            How many ``(genre, probability)`` pairs :attr:`Prediction.top_k
            <musicgenre.predict.results.Prediction.top_k>` holds (at most the number of classes).
        timeline
            Also return each window's prediction (:attr:`Prediction.timeline
            <musicgenre.predict.results.Prediction.timeline>`).
        on_segment
            Called with each window's prediction, in order, as soon as it is scored (for a
            long file, while the rest is still being decoded): write a timeline as it goes
            without holding it.

        Returns
        -------
        Prediction

        Raises
        ------
        AudioDecodeError
            If a file cannot be decoded (the message names it).
        ConfigurationError
            If *top_k* is below 1, or a waveform is empty, badly shaped or not finite.
        """
        k = check_top_k(top_k, len(self.classes))
        output = self.pipeline.run(
            source, sample_rate=sample_rate, timeline=timeline, on_segment=on_segment, stacklevel=3
        )
        return self._prediction(output, k)

    # -- many files ---------------------------------------------------------------------
    def predict_many(
        self,
        paths: Sequence[StrPath],
        *,
        top_k: int = 3,
        timeline: bool = False,
        files_per_batch: int = 4,
        num_workers: int | None = None,
        progress: bool | None = None,
        on_segment: Callable[[Path, SegmentPrediction], None] | None = None,
        batch_size: int | None = None,
    ) -> list[Prediction | FailedPrediction]:
        """Predict many files in worker processes; a bad file never stops the rest.

        Parameters
        ----------
        paths
            Audio files (use :func:`~musicgenre.io.find_audio_files` for a folder).
        top_k, timeline
            As in :meth:`predict`.
        files_per_batch
            Files per batch (:func:`~musicgenre.parallel.map_files`): a worker runs a
            batch's files in turn and sends back their outputs together. On an accelerator
            the windows of a batch's files go through the model together (in forward passes
            of the classifier's ``batch_size`` windows).
        num_workers
            Processes (one torch thread each) that decode files, compute their features
            and, on the CPU, run the model on them: each worker keeps one core busy from
            the file to its logits. On an accelerator this process runs the model. 0 does
            everything in this process (with all of torch's threads). ``None`` (default):
            :func:`~musicgenre.parallel.default_workers` for the number of files. Files
            longer than ``stream_seconds`` are streamed by this process.
        progress
            Show a tqdm bar: ``True``, ``False``, or ``None`` for only on a terminal.
        on_segment
            Called with each file and each of its windows' predictions, as they are scored.
        batch_size
            Deprecated: *files_per_batch* (``batch_size`` is windows per forward pass
            everywhere else); it warns and will be removed in the next release.

        Returns
        -------
        list of Prediction or FailedPrediction
            One per path, in order; a file that cannot be decoded gives a
            :class:`~musicgenre.predict.results.FailedPrediction` naming it and the reason.

        Warns
        -----
        MusicGenreWarning
            What decoding a file raised (:class:`~musicgenre.errors.TruncatedAudioWarning`,
            :class:`~musicgenre.errors.DecoderWarning`), in worker processes too: each is
            issued again here, once per file, and kept in :attr:`Prediction.warnings
            <musicgenre.predict.results.Prediction.warnings>`.
        DeprecationWarning
            If *batch_size* is given.
        """
        if batch_size is not None:
            warnings.warn(
                "predict_many(batch_size=) is deprecated: it is the number of files per batch, "
                "now files_per_batch= (batch_size means windows per forward pass everywhere else)",
                DeprecationWarning,
                stacklevel=2,
            )
            files_per_batch = batch_size
        k = check_top_k(top_k, len(self.classes))
        outputs = list(  # list(): no Python frame between the pipeline and this method, for the warnings' stacklevel
            self.pipeline.run_many(
                paths,
                timeline=timeline,
                files_per_batch=files_per_batch,
                num_workers=num_workers,
                progress=progress,
                desc="predicting",
                on_segment=on_segment,
                stacklevel=3,  # the caller of predict_many
            )
        )
        return [output if isinstance(output, FailedPrediction) else self._prediction(output, k) for output in outputs]


def _check_fits(model: GenreModel, classes: Sequence[str], features: FeatureConfig) -> None:
    cfg = model.config
    if len(classes) != model.num_classes:
        raise ConfigurationError(f"{len(classes)} class names for a model with {model.num_classes} outputs")
    if cfg.n_mels != features.n_mels or (not cfg.global_pool and cfg.n_frames != features.n_frames):
        raise ConfigurationError(
            f"the features give (1, {features.n_mels}, {features.n_frames}) spectrograms but the model "
            f"expects (1, {cfg.n_mels}, {cfg.n_frames}); pass the FeatureConfig it was trained with"
        )
