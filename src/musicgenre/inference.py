"""Whole-track prediction with a trained model: ``GenreClassifier``.

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
covering the whole track for the improved one.

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

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soxr
import torch
from numpy.typing import NDArray
from torch.utils.data import DataLoader, Dataset

from musicgenre.audio.transforms import FeatureConfig
from musicgenre.audio.windowing import LogMelFrontEnd, Windowing, WindowMode, cut_windows, track_frames
from musicgenre.data.base import walk_files
from musicgenre.device import resolve_device
from musicgenre.errors import AudioDecodeError, CheckpointError, ConfigurationError
from musicgenre.io import AUDIO_EXTENSIONS, load_audio
from musicgenre.models.checkpoint import load_checkpoint
from musicgenre.models.cnn import GenreCNN
from musicgenre.models.scoring import average_tracks, score_windows

__all__ = [
    "FailedPrediction",
    "GenreClassifier",
    "Prediction",
    "SegmentPrediction",
    "find_audio_files",
]

StrPath = str | os.PathLike[str]
Waveform = torch.Tensor | NDArray[np.floating[Any]]


@dataclass(frozen=True)
class SegmentPrediction:
    """The model's output for one window of a track.

    Attributes
    ----------
    start, end
        Where the window's audio starts and ends, in seconds from the track's start (the
        end of the last window is the track's end, not that of its padding).
    probabilities
        Probability of each class, in the model's class order.
    """

    start: float
    end: float
    probabilities: dict[str, float]

    @property
    def genre(self) -> str:
        """The most probable class of this window."""
        return max(self.probabilities, key=self.probabilities.__getitem__)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return {"start": self.start, "end": self.end, "genre": self.genre, "probabilities": self.probabilities}


@dataclass(frozen=True)
class Prediction:
    """A whole track's prediction.

    Attributes
    ----------
    path
        The file, or ``None`` for a waveform passed in memory.
    top_k
        The *k* most probable ``(genre, probability)`` pairs, most probable first.
    probabilities
        Every class's probability (they sum to 1), in the model's class order.
    duration
        Length of the track in seconds.
    segments
        Number of windows averaged.
    timeline
        Each window's prediction, if asked for (``timeline=True``); else ``None``.
    """

    path: Path | None
    top_k: tuple[tuple[str, float], ...]
    probabilities: dict[str, float]
    duration: float
    segments: int
    timeline: tuple[SegmentPrediction, ...] | None = None

    @property
    def genre(self) -> str:
        """The most probable genre."""
        return self.top_k[0][0]

    @property
    def probability(self) -> float:
        """Probability of :attr:`genre`."""
        return self.top_k[0][1]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (``error`` is ``None``, as opposed to :class:`FailedPrediction`)."""
        data: dict[str, Any] = {
            "path": None if self.path is None else str(self.path),
            "genre": self.genre,
            "probability": self.probability,
            "top_k": [{"genre": g, "probability": p} for g, p in self.top_k],
            "probabilities": self.probabilities,
            "duration": self.duration,
            "segments": self.segments,
            "error": None,
        }
        if self.timeline is not None:
            data["timeline"] = [segment.to_dict() for segment in self.timeline]
        return data


@dataclass(frozen=True)
class FailedPrediction:
    """A file that :meth:`GenreClassifier.predict_many` could not use.

    Attributes
    ----------
    path
        The file.
    error
        Why, naming the file (e.g. ``"x.wav: not a valid WAV file, or it is corrupt ..."``).
    """

    path: Path
    error: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return {"path": str(self.path), "error": self.error}


def find_audio_files(folder: StrPath) -> list[Path]:
    """Every file under *folder* (recursively) with an audio extension, sorted; hidden ones skipped.

    The extensions are :data:`musicgenre.io.AUDIO_EXTENSIONS` (``.wav``, ``.flac``, ``.mp3``...),
    in any letter case.
    """
    return [path for path in walk_files(Path(folder)) if path.suffix.lower() in AUDIO_EXTENSIONS]


@dataclass(frozen=True)
class _Track:
    """A track cut into windows, ready for the model."""

    features: torch.Tensor  # (windows, 1, n_mels, n_frames)
    weights: torch.Tensor  # (windows,): share of each window that holds audio
    starts: torch.Tensor  # (windows,): first frame of each window
    samples: int  # length of the mono waveform at the model's rate


class _Featurizer:
    """Decode -> mono -> resample -> whole-track log-mel -> windows. Picklable, so loader workers run it."""

    def __init__(self, config: FeatureConfig, windowing: Windowing) -> None:
        self.config = config
        self.windowing = windowing
        self.front_end = LogMelFrontEnd(config)

    def load(self, path: Path) -> torch.Tensor:
        wave, _ = load_audio(path, sample_rate=self.config.sample_rate, mono=True)
        return wave[0]

    def __call__(self, wave: torch.Tensor) -> _Track:
        frames = track_frames(wave, self.front_end, self.windowing)
        track = cut_windows(frames, self.front_end, self.windowing)
        return _Track(track.windows, track.weights, track.starts, len(wave))


@dataclass(frozen=True)
class _Loaded:
    path: Path
    track: _Track | None
    error: str | None


class _Files(Dataset[_Loaded]):
    def __init__(self, paths: Sequence[Path], featurizer: _Featurizer) -> None:
        self.paths = list(paths)
        self.featurizer = featurizer

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> _Loaded:
        path = self.paths[index]
        try:
            return _Loaded(path, self.featurizer(self.featurizer.load(path)), None)
        except AudioDecodeError as exc:
            return _Loaded(path, None, str(exc))


def _as_list(items: list[_Loaded]) -> list[_Loaded]:
    return items


class GenreClassifier:
    """Predict the genre of whole tracks with a trained :class:`~musicgenre.models.GenreCNN`.

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

    Attributes
    ----------
    windowing : Windowing
        The windows scored.
    hop : int
        Samples between window starts, ``hop_frames * hop_length``.

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
        model: GenreCNN,
        classes: Sequence[str],
        features: FeatureConfig | None = None,
        *,
        windowing: Windowing | None = None,
        overlap: float | None = None,
        batch_size: int = 32,
        device: str | torch.device = "cpu",
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
        self.batch_size = batch_size
        self.device = resolve_device(device) if isinstance(device, str) else device
        self.model = model.to(self.device).eval()
        self.hop = self.windowing.hop(self.features.n_frames) * self.features.hop_length
        self._featurizer = _Featurizer(self.features, self.windowing)

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
        batch_size, device
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
            elif windows == "all" and stored.mode == "first":
                windowing = Windowing("all", None, stored.average)
            elif windows is not None:
                windowing = Windowing(windows, stored.hop_frames, stored.average)
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
        )

    # -- one track ----------------------------------------------------------------------
    def load(self, path: StrPath) -> torch.Tensor:
        """Decode *path*, mixed to mono at the model's rate: shape ``(time,)``.

        Raises
        ------
        AudioDecodeError
            If the file is missing, empty, corrupt or in an unsupported format.
        """
        return self._featurizer.load(Path(path))

    def _mono(self, waveform: Waveform, sample_rate: int | None) -> torch.Tensor:
        data = waveform.detach().cpu().numpy() if isinstance(waveform, torch.Tensor) else np.asarray(waveform)
        if data.ndim not in (1, 2) or data.size == 0:
            raise ConfigurationError(f"waveform must be (time,) or (channels, time) and non-empty, got {data.shape}")
        if not np.isfinite(data).all():
            raise ConfigurationError("waveform holds NaN or infinite samples")
        mono = data.astype(np.float32).reshape(-1, data.shape[-1]).mean(axis=0, dtype=np.float32)
        rate = sample_rate or self.features.sample_rate
        if rate <= 0:
            raise ConfigurationError(f"sample_rate must be positive, got {rate}")
        if rate != self.features.sample_rate:  # soxr, as load_audio resamples files
            mono = soxr.resample(mono, rate, self.features.sample_rate, quality="HQ")
            if mono.size == 0:
                mono = np.zeros(1, dtype=np.float32)
        return torch.from_numpy(np.ascontiguousarray(mono, dtype=np.float32))

    def _logits(self, features: torch.Tensor) -> torch.Tensor:
        return score_windows(self.model, features, batch_size=self.batch_size, device=self.device).logits

    def _prediction(
        self, path: Path | None, track: _Track, window_logits: torch.Tensor, top_k: int, timeline: bool
    ) -> Prediction:
        mean = average_tracks(window_logits, track.weights, [len(window_logits)], self.windowing.average)[0]
        probs = [float(p) for p in mean]
        ranked = sorted(range(len(probs)), key=lambda i: -probs[i])[:top_k]
        rate = self.features.sample_rate
        segments = None
        if timeline:
            starts = (track.starts * self.features.hop_length).tolist()
            segments = tuple(
                SegmentPrediction(
                    start=start / rate,
                    end=min(start + self.features.clip_samples, track.samples) / rate,
                    probabilities=dict(zip(self.classes, (float(p) for p in row), strict=True)),
                )
                for start, row in zip(starts, torch.softmax(window_logits, dim=1), strict=True)
            )
        return Prediction(
            path=path,
            top_k=tuple((self.classes[i], probs[i]) for i in ranked),
            probabilities=dict(zip(self.classes, probs, strict=True)),
            duration=track.samples / rate,
            segments=len(window_logits),
            timeline=segments,
        )

    def predict(
        self,
        source: StrPath | Waveform,
        *,
        sample_rate: int | None = None,
        top_k: int = 3,
        timeline: bool = False,
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
            How many ``(genre, probability)`` pairs :attr:`Prediction.top_k` holds (at most
            the number of classes).
        timeline
            Also return each window's prediction (:attr:`Prediction.timeline`).

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
        k = self._check_top_k(top_k)
        if isinstance(source, torch.Tensor | np.ndarray):
            path, wave = None, self._mono(source, sample_rate)
        else:
            path = Path(source)
            wave = self._featurizer.load(path)
        track = self._featurizer(wave)
        return self._prediction(path, track, self._logits(track.features), k, timeline)

    def _check_top_k(self, top_k: int) -> int:
        if top_k < 1:
            raise ConfigurationError(f"top_k must be at least 1, got {top_k}")
        return min(top_k, len(self.classes))

    # -- many files ---------------------------------------------------------------------
    def predict_many(
        self,
        paths: Sequence[StrPath],
        *,
        top_k: int = 3,
        timeline: bool = False,
        batch_size: int = 4,
        num_workers: int = 0,
        progress: bool | None = None,
    ) -> list[Prediction | FailedPrediction]:
        """Predict many files, decoding them in worker processes; a bad file never stops the rest.

        Parameters
        ----------
        paths
            Audio files (use :func:`find_audio_files` for a folder).
        top_k, timeline
            As in :meth:`predict`.
        batch_size
            Files per loader batch: their windows go through the model together (in
            forward passes of the classifier's ``batch_size`` windows).
        num_workers
            Processes that decode files and compute features while the model runs; 0 does
            everything in this process.
        progress
            Show a tqdm bar: ``True``, ``False``, or ``None`` for only on a terminal.

        Returns
        -------
        list of Prediction or FailedPrediction
            One per path, in order; a file that cannot be decoded gives a
            :class:`FailedPrediction` naming it and the reason.
        """
        from tqdm.auto import tqdm

        k = self._check_top_k(top_k)
        if batch_size < 1 or num_workers < 0:
            raise ConfigurationError(f"batch_size must be >= 1 and num_workers >= 0, got {batch_size}, {num_workers}")
        loader: DataLoader[_Loaded] = DataLoader(
            _Files([Path(p) for p in paths], self._featurizer),
            batch_size=batch_size,
            num_workers=num_workers,
            collate_fn=_as_list,
        )
        results: list[Prediction | FailedPrediction] = []
        with tqdm(
            total=len(paths), desc="predicting", unit="file", disable=None if progress is None else not progress
        ) as bar:
            for batch in loader:
                results.extend(self._predict_batch(batch, k, timeline))
                bar.update(len(batch))
        return results

    def _predict_batch(
        self, batch: list[_Loaded], top_k: int, timeline: bool
    ) -> Iterator[Prediction | FailedPrediction]:
        tracks = [item.track for item in batch if item.track is not None]
        window_logits = self._logits(torch.cat([t.features for t in tracks])) if tracks else torch.empty(0)
        per_track = iter(torch.split(window_logits, [len(t.features) for t in tracks]))
        for item in batch:
            if item.track is None:
                yield FailedPrediction(item.path, item.error or "could not be decoded")
            else:
                yield self._prediction(item.path, item.track, next(per_track), top_k, timeline)


def _check_fits(model: GenreCNN, classes: Sequence[str], features: FeatureConfig) -> None:
    cfg = model.config
    if len(classes) != model.num_classes:
        raise ConfigurationError(f"{len(classes)} class names for a model with {model.num_classes} outputs")
    if cfg.n_mels != features.n_mels or (not cfg.global_pool and cfg.n_frames != features.n_frames):
        raise ConfigurationError(
            f"the features give (1, {features.n_mels}, {features.n_frames}) spectrograms but the model "
            f"expects (1, {cfg.n_mels}, {cfg.n_frames}); pass the FeatureConfig it was trained with"
        )
