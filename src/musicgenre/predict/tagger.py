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
features instead, for your own models. The tagger configures the track pipeline that
genre prediction runs too (:class:`~musicgenre.predict.pipeline.TrackPipeline`), so
:meth:`Tagger.tag_many` tags many files on :func:`~musicgenre.parallel.map_files` as
:meth:`GenreClassifier.predict_many <musicgenre.predict.GenreClassifier.predict_many>`
predicts them: worker processes each decode a file and (on the CPU) run the model on its
patches; a file that cannot be decoded becomes a
:class:`~musicgenre.predict.results.FailedPrediction` naming it.

>>> tagger = Tagger.from_pretrained("MTT_musicnn")
>>> result = tagger.tag(torch.zeros(16000 * 4), sample_rate=16000, top_k=3)
>>> len(result.tags), len(result.top_k), result.patches
(50, 3, 1)
>>> tuple(tagger.embed(torch.zeros(16000 * 4), sample_rate=16000).shape)
(200,)
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from musicgenre._config import StrPath
from musicgenre.audio.frontends import MusicnnFrontEnd
from musicgenre.device import resolve_device
from musicgenre.errors import ConfigurationError
from musicgenre.models.musicnn import Musicnn
from musicgenre.models.pretrained import list_pretrained, load_pretrained, pretrained_info
from musicgenre.predict.featurizer import Featurizer, Patches, Waveform
from musicgenre.predict.pipeline import MeanOfWindows, Scorer, TrackOutput, TrackPipeline
from musicgenre.predict.results import FailedPrediction, TagResult, check_top_k, rank

__all__ = ["EmbeddingLayer", "Tagger"]

EmbeddingLayer = Literal["penultimate", "pooled"]
"""Which representation :meth:`Tagger.embed` returns: the 200-d penultimate layer or the 1,506-d pooled features."""


class _TagProbabilities(nn.Module):
    """musicnn's taggram: the sigmoid of each patch's tag logits."""

    def __init__(self, model: Musicnn) -> None:
        super().__init__()
        self.model = model

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.model.forward_head(self.model.pooled(patches)))


class _Embedding(nn.Module):
    """One of musicnn's representations of each patch: the pooled features or the penultimate layer."""

    def __init__(self, model: Musicnn, layer: EmbeddingLayer) -> None:
        super().__init__()
        self.model = model
        self.layer = layer

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        pooled = self.model.pooled(patches)
        return pooled if self.layer == "pooled" else self.model.forward_head(pooled, pre_logits=True)


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
        What :attr:`TagResult.model <musicgenre.predict.results.TagResult.model>` says
        (default: the class name of *model*).
    front_end
        The log-mel front end the model was trained with (default: musicnn's, 16 kHz).
        ``frontend=`` is its deprecated spelling.
    patch_frames
        Frames per patch (187 = 3 s, what musicnn was trained on).
    batch_size
        Patches per forward pass (a 30-s track is 10 patches); ``None``: 4 on the CPU, where
        small passes keep each layer's output in cache, 64 on an accelerator, where the
        patches of several files share a pass in :meth:`tag_many`.
    device
        ``"cpu"``, ``"cuda"``, ``"auto"``...

    Attributes
    ----------
    pipeline : TrackPipeline
        The track pipeline it runs (:class:`~musicgenre.predict.pipeline.TrackPipeline`).

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
        front_end: MusicnnFrontEnd | None = None,
        patch_frames: int = 187,
        batch_size: int | None = None,
        device: str | torch.device = "cpu",
        frontend: MusicnnFrontEnd | None = None,
    ) -> None:
        if frontend is not None:
            warnings.warn(
                "Tagger(frontend=) is deprecated: pass front_end=; the old name will be removed in the next release",
                DeprecationWarning,
                stacklevel=2,
            )
            front_end = front_end or frontend
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
        self.front_end = front_end or MusicnnFrontEnd()
        if self.front_end.n_mels != model.config.n_mels:
            raise ConfigurationError(
                f"the front end gives {self.front_end.n_mels} mel bands, the model reads {model.config.n_mels}"
            )
        self.patch_frames = patch_frames
        self.batch_size = batch_size
        self.model = model.to(self.device).eval()
        featurizer = Featurizer(self.front_end, Patches(patch_frames))
        scorer = Scorer(_TagProbabilities(self.model), batch_size=batch_size, device=self.device)
        self.pipeline = TrackPipeline(featurizer, scorer, MeanOfWindows(), labels=self.labels)
        self._embedding = {
            layer: Scorer(_Embedding(self.model, layer), batch_size=batch_size, device=self.device)
            for layer in ("penultimate", "pooled")
        }

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
            front_end=entry.make_front_end(),
            patch_frames=entry.patch_frames,
            batch_size=batch_size,
            device=device,
        )

    @staticmethod
    def available() -> list[str]:
        """Names accepted by :meth:`from_pretrained`."""
        return list_pretrained()

    @property
    def frontend(self) -> MusicnnFrontEnd:
        """Deprecated spelling of ``front_end``."""
        warnings.warn(
            "Tagger.frontend is deprecated: use Tagger.front_end; the old name will be removed in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.front_end

    @property
    def sample_rate(self) -> int:
        """Rate the model's front end reads (16,000 Hz)."""
        return self.front_end.sample_rate

    @property
    def patch_seconds(self) -> float:
        """Seconds of audio per patch (about 3)."""
        return self.patch_frames * self.front_end.hop_length / self.sample_rate

    # -- inputs ---------------------------------------------------------------------------
    def load(self, path: StrPath) -> torch.Tensor:
        """Decode *path*, mixed to mono at :attr:`sample_rate`: shape ``(time,)``.

        Raises
        ------
        AudioDecodeError
            If the file is missing, empty, corrupt or in an unsupported format.
        """
        return self.pipeline.featurizer.load(path)

    def patches(self, source: StrPath | Waveform, *, sample_rate: int | None = None) -> torch.Tensor:
        """The model's input for one track: ``(patches, 187, 96)`` log-mel patches.

        *source* and *sample_rate* are as in :meth:`tag`.
        """
        featurizer = self.pipeline.featurizer
        return featurizer.cut(featurizer.waveform(source, sample_rate)).windows

    # -- model ----------------------------------------------------------------------------
    def taggram(self, source: StrPath | Waveform, *, sample_rate: int | None = None) -> torch.Tensor:
        """Each patch's tag probabilities, ``(patches, tags)`` (musicnn's taggram).

        *source* and *sample_rate* are as in :meth:`tag`.
        """
        return self.pipeline.scorer(self.patches(source, sample_rate=sample_rate))

    def _result(self, output: TrackOutput, top_k: int) -> TagResult:
        ranked, tags = rank(self.labels, output.probabilities, top_k)
        return TagResult(
            path=output.path,
            model=self.name,
            tags=tags,
            top_k=ranked,
            duration=output.duration,
            patches=output.windows,
            timeline=output.timeline,
            warnings=output.warnings,
        )

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
            How many ``(tag, probability)`` pairs :attr:`TagResult.top_k
            <musicgenre.predict.results.TagResult.top_k>` holds.
        timeline
            Also return each patch's probabilities (:attr:`TagResult.timeline
            <musicgenre.predict.results.TagResult.timeline>`).

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
        k = check_top_k(top_k, len(self.labels))
        return self._result(self.pipeline.run(source, sample_rate=sample_rate, timeline=timeline, stacklevel=3), k)

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
        return self._embedding[layer](self.patches(source, sample_rate=sample_rate)).mean(dim=0)

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
            Audio files (:func:`~musicgenre.io.find_audio_files` lists a folder's).
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
            :class:`~musicgenre.predict.results.FailedPrediction` naming it and the reason.

        Warns
        -----
        MusicGenreWarning
            What decoding a file raised (a truncated file, damaged MP3 frames), in worker
            processes too: each is issued again here, once per file.
        """
        k = check_top_k(top_k, len(self.labels))
        outputs = list(  # list(): no Python frame between the pipeline and this method, for the warnings' stacklevel
            self.pipeline.run_many(
                paths,
                timeline=timeline,
                files_per_batch=files_per_batch,
                num_workers=num_workers,
                progress=progress,
                desc="tagging",
                stacklevel=3,  # the caller of tag_many
            )
        )
        return [output if isinstance(output, FailedPrediction) else self._result(output, k) for output in outputs]
