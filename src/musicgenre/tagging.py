"""Whole-track tags and embeddings with a pretrained musicnn model: ``Tagger``.

A track is decoded at 16 kHz and mixed to mono (:func:`musicgenre.io.load_audio`:
soundfile + soxr), turned into musicnn's log-mel frames
(:class:`~musicgenre.audio.frontends.MusicnnFrontEnd`) and cut into back-to-back 3-s
patches (:func:`~musicgenre.audio.frontends.musicnn_patches`; the frames after the last
whole patch are dropped and a track shorter than one patch is repeated to fill it, as
musicnn's training did). The model gives each patch a probability per tag (the
*taggram*); a track's tag probabilities are the taggram's mean over its patches, as in
the original ``musicnn.tagger.top_tags``. Tags are independent (sigmoid outputs): they do
not sum to 1.

:meth:`Tagger.embed` gives a track's mean 200-d penultimate embedding or 1,506-d pooled
features instead, for your own models. :meth:`Tagger.tag_many` tags many files on
:func:`~musicgenre.parallel.map_files`, as
:meth:`GenreClassifier.predict_many <musicgenre.inference.GenreClassifier.predict_many>`
predicts them: worker processes each decode a file and (on the CPU) run the model on its
patches; a file that cannot be decoded becomes a
:class:`~musicgenre.inference.FailedPrediction` naming it.

>>> tagger = Tagger.from_pretrained("MTT_musicnn")
>>> result = tagger.tag(torch.zeros(16000 * 4), sample_rate=16000, top_k=3)
>>> len(result.tags), len(result.top_k), result.patches
(50, 3, 1)
>>> tuple(tagger.embed(torch.zeros(16000 * 4), sample_rate=16000).shape)
(200,)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from numpy.typing import NDArray

from musicgenre._config import StrPath
from musicgenre.audio.frontends import MusicnnFrontEnd, musicnn_patches
from musicgenre.device import resolve_device
from musicgenre.errors import ConfigurationError
from musicgenre.inference import FailedPrediction, SegmentPrediction
from musicgenre.io import load_mono, waveform_to_mono
from musicgenre.models.musicnn import Musicnn
from musicgenre.models.pretrained import list_pretrained, load_pretrained, pretrained_info
from musicgenre.parallel import FileOutcome, default_workers, map_files, reissue

__all__ = ["EmbeddingLayer", "TagResult", "Tagger"]

Waveform = torch.Tensor | NDArray[np.floating[Any]]
EmbeddingLayer = Literal["penultimate", "pooled"]
"""Which representation :meth:`Tagger.embed` returns: the 200-d penultimate layer or the 1,506-d pooled features."""


@dataclass(frozen=True)
class TagResult:
    """A whole track's tags.

    Attributes
    ----------
    path
        The file, or ``None`` for a waveform passed in memory.
    model
        Name of the model that tagged it (e.g. ``"MSD_musicnn"``).
    tags
        Every tag's probability (mean of the patches' sigmoid outputs), in the model's tag order.
    top_k
        The *k* most probable ``(tag, probability)`` pairs, most probable first.
    duration
        Length of the decoded track in seconds.
    patches
        Number of 3-s patches averaged.
    timeline
        Each patch's tag probabilities (``timeline=True``), as
        :class:`~musicgenre.inference.SegmentPrediction` s with ``start``/``end`` in
        seconds; else ``None``.
    """

    path: Path | None
    model: str
    tags: dict[str, float]
    top_k: tuple[tuple[str, float], ...]
    duration: float
    patches: int
    timeline: tuple[SegmentPrediction, ...] | None = None

    @property
    def tag(self) -> str:
        """The most probable tag."""
        return self.top_k[0][0]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (``error`` is ``None``, as opposed to :class:`~musicgenre.inference.FailedPrediction`)."""
        data: dict[str, Any] = {
            "path": None if self.path is None else str(self.path),
            "model": self.model,
            "top_k": [{"tag": t, "probability": p} for t, p in self.top_k],
            "tags": self.tags,
            "duration": self.duration,
            "patches": self.patches,
            "error": None,
        }
        if self.timeline is not None:
            data["timeline"] = [{"start": s.start, "end": s.end, "tags": s.probabilities} for s in self.timeline]
        return data


@dataclass(frozen=True)
class _Patches:
    patches: torch.Tensor  # (patches, frames, mels); none left once tagged
    samples: int
    taggram: torch.Tensor | None = None  # (patches, tags), once the model has run


class _Prepare:
    """Decode -> mono 16 kHz -> log-mel -> patches. Picklable, so worker processes run it."""

    def __init__(self, frontend: MusicnnFrontEnd, patch_frames: int) -> None:
        self.frontend = frontend
        self.patch_frames = patch_frames

    def load(self, path: Path) -> torch.Tensor:
        return load_mono(path, sample_rate=self.frontend.sample_rate)

    @torch.inference_mode()
    def __call__(self, wave: torch.Tensor) -> torch.Tensor:
        return musicnn_patches(self.frontend(wave), self.patch_frames)


class _Run:
    """The model over patches, in batches: tag probabilities or an embedding layer. Picklable."""

    def __init__(self, model: Musicnn, batch_size: int, device: torch.device) -> None:
        self.model = model
        self.batch_size = batch_size
        self.device = device

    @torch.inference_mode()
    def __call__(self, patches: torch.Tensor, what: Literal["tags", "penultimate", "pooled"] = "tags") -> torch.Tensor:
        outputs = []
        for batch in torch.split(patches, self.batch_size):
            pooled = self.model.pooled(batch.to(self.device))
            if what == "pooled":
                out = pooled
            elif what == "penultimate":
                out = self.model.forward_head(pooled, pre_logits=True)
            else:
                out = torch.sigmoid(self.model.forward_head(pooled))
            outputs.append(out.float().cpu())
        return torch.cat(outputs)


class _TagJob:
    """One file's work for :func:`~musicgenre.parallel.map_files`: its patches, and their tags if *run* is given."""

    def __init__(self, prepare: _Prepare, run: _Run | None) -> None:
        self.prepare = prepare
        self.run = run

    def __call__(self, path: Path) -> _Patches:
        wave = self.prepare.load(path)
        patches = self.prepare(wave)
        if self.run is None:
            return _Patches(patches, len(wave))
        return _Patches(patches[:0], len(wave), self.run(patches))


class Tagger:
    """Tag whole tracks, or embed them, with a pretrained musicnn model.

    Parameters
    ----------
    model
        The network (e.g. from :func:`~musicgenre.models.pretrained.load_pretrained`); it is
        put in eval mode on *device*.
    labels
        Tag names in the model's output order.
    name
        What :attr:`TagResult.model` says (default: the class name of *model*).
    frontend
        The log-mel front end the model was trained with (default: musicnn's, 16 kHz).
    patch_frames
        Frames per patch (187 = 3 s, what musicnn was trained on).
    batch_size
        Patches per forward pass (a 30-s track is 10 patches); ``None``: 4 on the CPU, where
        small passes keep each layer's output in cache (4 was 12 % faster than 64 for
        ``musicgenre tags`` on 200 files, 2 cores), 64 on an accelerator, where the patches of
        several files share a pass in :meth:`tag_many`.
    device
        ``"cpu"``, ``"cuda"``, ``"auto"``...

    Raises
    ------
    ConfigurationError
        If *labels* does not match the model's outputs or *batch_size* is below 1.

    Examples
    --------
    >>> tagger = Tagger.from_pretrained("MSD_musicnn")
    >>> tagger.labels[:4]
    ('rock', 'pop', 'alternative', 'indie')
    """

    def __init__(
        self,
        model: Musicnn,
        labels: Sequence[str],
        *,
        name: str | None = None,
        frontend: MusicnnFrontEnd | None = None,
        patch_frames: int = 187,
        batch_size: int | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        self.labels = tuple(labels)
        if len(self.labels) != model.num_classes:
            raise ConfigurationError(f"{len(self.labels)} tag names for a model with {model.num_classes} outputs")
        self.device = resolve_device(device) if isinstance(device, str) else device
        if batch_size is None:
            batch_size = 4 if self.device.type == "cpu" else 64
        if batch_size < 1 or patch_frames < 1:
            raise ConfigurationError(
                f"batch_size and patch_frames must be at least 1, got {batch_size}, {patch_frames}"
            )
        self.name = name or type(model).__name__
        self.frontend = frontend or MusicnnFrontEnd()
        if self.frontend.n_mels != model.config.n_mels:
            raise ConfigurationError(
                f"the front end gives {self.frontend.n_mels} mel bands, the model reads {model.config.n_mels}"
            )
        self.patch_frames = patch_frames
        self.batch_size = batch_size
        self.model = model.to(self.device).eval()
        self._prepare = _Prepare(self.frontend, patch_frames)
        self._run = _Run(self.model, batch_size, self.device)

    @classmethod
    def from_pretrained(
        cls, name: str = "MSD_musicnn", *, batch_size: int | None = None, device: str | torch.device = "cpu"
    ) -> Tagger:
        """The tagger of a packaged pretrained model: ``"MSD_musicnn"`` or ``"MTT_musicnn"``.

        Raises
        ------
        ConfigurationError
            If *name* is not one of :func:`~musicgenre.models.pretrained.list_pretrained`.
        CheckpointError
            If the packaged weight file is missing or damaged.
        """
        entry = pretrained_info(name)
        return cls(
            load_pretrained(name),
            entry.labels,
            name=entry.name,
            frontend=entry.make_frontend(),
            patch_frames=entry.patch_frames,
            batch_size=batch_size,
            device=device,
        )

    @staticmethod
    def available() -> list[str]:
        """Names accepted by :meth:`from_pretrained`."""
        return list_pretrained()

    @property
    def sample_rate(self) -> int:
        """Rate the model's front end reads (16,000 Hz)."""
        return self.frontend.sample_rate

    @property
    def patch_seconds(self) -> float:
        """Seconds of audio per patch (about 3)."""
        return self.patch_frames * self.frontend.hop_length / self.sample_rate

    # -- inputs ---------------------------------------------------------------------------
    def load(self, path: StrPath) -> torch.Tensor:
        """Decode *path*, mixed to mono at :attr:`sample_rate`: shape ``(time,)``.

        Raises
        ------
        AudioDecodeError
            If the file is missing, empty, corrupt or in an unsupported format.
        """
        return self._prepare.load(Path(path))

    def _mono(self, waveform: Waveform, sample_rate: int | None) -> torch.Tensor:
        return waveform_to_mono(waveform, sample_rate=sample_rate or self.sample_rate, target_rate=self.sample_rate)

    def _wave(self, source: StrPath | Waveform, sample_rate: int | None) -> tuple[Path | None, torch.Tensor]:
        if isinstance(source, torch.Tensor | np.ndarray):
            return None, self._mono(source, sample_rate)
        return Path(source), self.load(source)

    def patches(self, source: StrPath | Waveform, *, sample_rate: int | None = None) -> torch.Tensor:
        """The model's input for one track: ``(patches, 187, 96)`` log-mel patches.

        *source* and *sample_rate* are as in :meth:`tag`.
        """
        return self._prepare(self._wave(source, sample_rate)[1])

    # -- model ----------------------------------------------------------------------------
    def taggram(self, source: StrPath | Waveform, *, sample_rate: int | None = None) -> torch.Tensor:
        """Each patch's tag probabilities, ``(patches, tags)`` (musicnn's taggram).

        *source* and *sample_rate* are as in :meth:`tag`.
        """
        return self._run(self.patches(source, sample_rate=sample_rate), "tags")

    def _result(self, path: Path | None, samples: int, taggram: torch.Tensor, top_k: int, timeline: bool) -> TagResult:
        probs = [float(p) for p in taggram.mean(dim=0)]
        ranked = sorted(range(len(probs)), key=lambda i: -probs[i])[:top_k]
        step = self.patch_frames * self.frontend.hop_length
        segments = None
        if timeline:
            segments = tuple(
                SegmentPrediction(
                    start=i * step / self.sample_rate,
                    end=min((i + 1) * step, samples) / self.sample_rate,
                    probabilities=dict(zip(self.labels, (float(p) for p in row), strict=True)),
                )
                for i, row in enumerate(taggram)
            )
        return TagResult(
            path=path,
            model=self.name,
            tags=dict(zip(self.labels, probs, strict=True)),
            top_k=tuple((self.labels[i], probs[i]) for i in ranked),
            duration=samples / self.sample_rate,
            patches=len(taggram),
            timeline=segments,
        )

    def _check_top_k(self, top_k: int) -> int:
        if top_k < 1:
            raise ConfigurationError(f"top_k must be at least 1, got {top_k}")
        return min(top_k, len(self.labels))

    # -- one track ------------------------------------------------------------------------
    def tag(
        self,
        source: StrPath | Waveform,
        *,
        sample_rate: int | None = None,
        top_k: int = 5,
        timeline: bool = False,
    ) -> TagResult:
        """Tag one whole track: the mean of its patches' tag probabilities.

        Parameters
        ----------
        source
            An audio file (WAV, FLAC, OGG, MP3, AU, AIFF; any rate, any channel count), or a
            waveform of shape ``(time,)`` or ``(channels, time)`` (tensor or array).
        sample_rate
            Rate of a waveform *source*; ``None`` means :attr:`sample_rate` (16 kHz).
            Ignored for files.
        top_k
            How many ``(tag, probability)`` pairs :attr:`TagResult.top_k` holds.
        timeline
            Also return each patch's probabilities (:attr:`TagResult.timeline`).

        Returns
        -------
        TagResult

        Raises
        ------
        AudioDecodeError
            If a file cannot be decoded (the message names it).
        ConfigurationError
            If *top_k* is below 1, or a waveform is empty, badly shaped or not finite.
        """
        k = self._check_top_k(top_k)
        path, wave = self._wave(source, sample_rate)
        return self._result(path, len(wave), self._run(self._prepare(wave), "tags"), k, timeline)

    def embed(
        self,
        source: StrPath | Waveform,
        *,
        sample_rate: int | None = None,
        layer: EmbeddingLayer = "penultimate",
    ) -> torch.Tensor:
        """A track's embedding: the mean over its patches of one layer's output.

        Parameters
        ----------
        source, sample_rate
            As in :meth:`tag`.
        layer
            ``"penultimate"``: the 200-d layer before the tags (dense, ReLU, batch-norm);
            ``"pooled"``: the 1,506-d max- and mean-pooled mid-level features (in a frozen
            probe on GTZAN these separated genres better than the 200-d layer).

        Returns
        -------
        torch.Tensor
            Shape ``(200,)`` or ``(1506,)``, float32, on the CPU.

        Raises
        ------
        AudioDecodeError
            If a file cannot be decoded.
        ConfigurationError
            If *layer* is not one of the two, or a waveform is bad.
        """
        if layer not in ("penultimate", "pooled"):
            raise ConfigurationError(f"layer must be 'penultimate' or 'pooled', got {layer!r}")
        return self._run(self.patches(source, sample_rate=sample_rate), layer).mean(dim=0)

    # -- many files -----------------------------------------------------------------------
    def tag_many(
        self,
        paths: Sequence[StrPath],
        *,
        top_k: int = 5,
        timeline: bool = False,
        files_per_batch: int = 4,
        num_workers: int | None = None,
        progress: bool | None = None,
    ) -> list[TagResult | FailedPrediction]:
        """Tag many files in worker processes; a bad file never stops the rest.

        Parameters
        ----------
        paths
            Audio files (:func:`~musicgenre.inference.find_audio_files` lists a folder's).
        top_k, timeline
            As in :meth:`tag`.
        files_per_batch
            Files per batch (:func:`~musicgenre.parallel.map_files`). On an accelerator the
            patches of a batch's files go through the model together, in forward passes
            of up to ``batch_size`` patches (see the class).
        num_workers
            Processes (one torch thread each) that decode files, compute their log-mels
            and, on the CPU, run the model on them, so each keeps one core busy from the
            file to its tags; on an accelerator this process runs the model. 0 does
            everything in this process (with all of torch's threads). ``None`` (default):
            :func:`~musicgenre.parallel.default_workers` for the number of files.
        progress
            Show a tqdm bar: ``True``, ``False``, or ``None`` for only on a terminal.

        Returns
        -------
        list of TagResult or FailedPrediction
            One per path, in order; a file that cannot be decoded gives a
            :class:`~musicgenre.inference.FailedPrediction` naming it and the reason.

        Warns
        -----
        MusicGenreWarning
            What decoding a file raised (a truncated file, damaged MP3 frames), in worker
            processes too: each is issued again here, once per file.
        """
        k = self._check_top_k(top_k)
        workers = default_workers(len(paths)) if num_workers is None else num_workers
        job = _TagJob(self._prepare, self._run if self.device.type == "cpu" else None)
        results: list[TagResult | FailedPrediction] = []
        for batch in map_files(
            job, paths, num_workers=workers, files_per_batch=files_per_batch, progress=progress, desc="tagging"
        ):
            results.extend(self._tag_batch(batch, k, timeline))
        return results

    def _tag_batch(
        self, batch: list[FileOutcome[_Patches]], top_k: int, timeline: bool
    ) -> Iterator[TagResult | FailedPrediction]:
        untagged = [o.value.patches for o in batch if o.value is not None and o.value.taggram is None]
        taggram = self._run(torch.cat(untagged)) if untagged else torch.empty(0)
        per_track = iter(torch.split(taggram, [len(p) for p in untagged]))
        for outcome in batch:
            reissue(outcome, stacklevel=4)
            item = outcome.value
            if item is None:
                yield FailedPrediction(outcome.path, outcome.error or "could not be decoded")
            else:
                rows = item.taggram if item.taggram is not None else next(per_track)
                yield self._result(outcome.path, item.samples, rows, top_k, timeline)
