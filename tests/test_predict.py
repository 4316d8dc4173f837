"""``musicgenre.predict``: one track pipeline for genres and tags, its result types, and the old names.

The behaviour of prediction and tagging is tested in test_inference.py, test_fast_prediction.py,
test_one_path.py and test_tagging.py; this file checks what the refactoring into one pipeline
promised: the result types' JSON stays byte for byte what the command line writes, the old
modules and names still work (with a DeprecationWarning), ``batch_size`` means windows per
forward pass everywhere, and any :class:`~musicgenre.models.GenreModel` is served.
"""

from __future__ import annotations

import importlib
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch
from torch import nn

import musicgenre
import musicgenre.io
import musicgenre.models.cnn_scoring
import musicgenre.predict
from musicgenre.audio import FeatureConfig
from musicgenre.audio.frontends import MusicnnFrontEnd, musicnn_patches
from musicgenre.errors import ConfigurationError
from musicgenre.genres import GENRES
from musicgenre.models import GenreCNN, GenreModel
from musicgenre.predict import FailedPrediction, GenreClassifier, Prediction, SegmentPrediction, Tagger, TagResult
from musicgenre.predict.pipeline import TrackPipeline
from musicgenre.synthetic import synthesize_clip

FEATURES = FeatureConfig(sample_rate=8000, clip_ms=500, n_mels=16, n_fft=256, hop_length=128)


def _model() -> GenreCNN:
    return GenreCNN(
        seed=3, n_classes=len(GENRES), n_mels=16, n_frames=FEATURES.n_frames, channels=(4, 8), embedding_dim=16
    ).eval()


# -- the JSON of every result, byte for byte -----------------------------------------------------


def test_the_results_json_is_what_the_command_line_has_always_written() -> None:
    segment = SegmentPrediction(0.0, 0.5, {"blues": 0.25, "jazz": 0.75})
    prediction = Prediction(
        path=Path("a.wav"),
        top_k=(("jazz", 0.75),),
        probabilities={"blues": 0.25, "jazz": 0.75},
        duration=0.5,
        segments=1,
        timeline=(segment,),
        warnings=("a.wav: is truncated",),
    )
    tags = TagResult(
        Path("b.wav"), "MTT_musicnn", {"piano": 0.5, "drums": 0.125}, (("piano", 0.5),), 3.0, 1, (segment,)
    )
    assert json.dumps(prediction.to_dict()) == (
        '{"path": "a.wav", "genre": "jazz", "probability": 0.75, "top_k": [{"genre": "jazz", "probability": 0.75}], '
        '"probabilities": {"blues": 0.25, "jazz": 0.75}, "duration": 0.5, "segments": 1, "error": null, '
        '"timeline": [{"start": 0.0, "end": 0.5, "genre": "jazz", "probabilities": {"blues": 0.25, "jazz": 0.75}}], '
        '"warnings": ["a.wav: is truncated"]}'
    )
    assert json.dumps(tags.to_dict()) == (
        '{"path": "b.wav", "model": "MTT_musicnn", "top_k": [{"tag": "piano", "probability": 0.5}], '
        '"tags": {"piano": 0.5, "drums": 0.125}, "duration": 3.0, "patches": 1, "error": null, '
        '"timeline": [{"start": 0.0, "end": 0.5, "tags": {"blues": 0.25, "jazz": 0.75}}]}'
    )
    assert json.dumps(FailedPrediction(Path("c.wav"), "c.wav: empty").to_dict()) == (
        '{"path": "c.wav", "error": "c.wav: empty"}'
    )
    plain = Prediction(None, (("jazz", 1.0),), {"jazz": 1.0}, 1.0, 2)
    assert "timeline" not in plain.to_dict()
    assert "warnings" not in plain.to_dict()


def test_a_segment_names_its_label_for_genres_and_tags() -> None:
    segment = SegmentPrediction(1.0, 2.0, {"piano": 0.2, "techno": 0.9, "rock": 0.4})
    assert segment.label == segment.genre == segment.tag == "techno"
    prediction = Prediction(None, (("rock", 0.6),), {"rock": 0.6, "pop": 0.4}, 1.0, 1)
    assert prediction.label == prediction.genre == "rock"
    assert TagResult(None, "m", {"a": 0.1}, (("a", 0.1),), 1.0, 1).label == "a"


# -- one pipeline, two configurations ------------------------------------------------------------


def test_genres_and_tags_run_the_same_pipeline() -> None:
    classifier = GenreClassifier(_model(), GENRES, FEATURES)
    tagger = Tagger.from_pretrained("MTT_musicnn")
    assert isinstance(classifier.pipeline, TrackPipeline)
    assert isinstance(tagger.pipeline, TrackPipeline)
    assert type(classifier.pipeline.featurizer) is type(tagger.pipeline.featurizer)
    assert type(classifier.pipeline.scorer) is type(tagger.pipeline.scorer)
    assert classifier.pipeline.labels == GENRES
    assert tagger.pipeline.labels == tagger.labels
    assert classifier.pipeline.scorer.batch_size == classifier.batch_size == 32  # windows per forward pass
    assert tagger.pipeline.scorer.batch_size == tagger.batch_size == 4  # patches per forward pass (CPU)


def test_the_tag_pipeline_cuts_musicnns_patches_exactly() -> None:
    tagger = Tagger.from_pretrained("MTT_musicnn")
    clip = torch.from_numpy(synthesize_clip("jazz", duration=7.0, sample_rate=16000, seed=2))
    expected = musicnn_patches(MusicnnFrontEnd()(clip))
    patches = tagger.patches(clip, sample_rate=16000)
    assert patches.shape == expected.shape == (2, 187, 96)
    assert torch.equal(patches, expected)
    result = tagger.tag(clip, sample_rate=16000, timeline=True)
    assert result.timeline is not None
    assert [s.tag for s in result.timeline] == [s.label for s in result.timeline]


class _Input:
    n_mels, n_frames, global_pool = 16, 1, True


class _MeanModel(GenreModel):
    """A genre model that is neither a GenreCNN nor a MusicnnClassifier: each band's mean, then a linear layer."""

    def __init__(self) -> None:
        super().__init__()
        self.config = _Input()
        self.linear = nn.Linear(16, len(GENRES))

    @property
    def num_classes(self) -> int:
        return len(GENRES)

    @property
    def num_features(self) -> int:
        return 16

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=-1).flatten(1)

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        out: torch.Tensor = features if pre_logits else self.linear(features)
        return out

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any], *, seed: int | None = None) -> _MeanModel:
        return cls()


def test_any_genre_model_is_served() -> None:
    model = _MeanModel().eval()
    classifier = GenreClassifier(model, GENRES, FEATURES, overlap=0.5)
    wave = torch.from_numpy(synthesize_clip("rock", duration=2.0, sample_rate=8000, seed=1))
    prediction = classifier.predict(wave, timeline=True)
    assert prediction.segments == 7
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0)
    track = classifier.pipeline.featurizer.cut(wave)
    with torch.no_grad():  # the windows' probabilities, weighted by the share of each that holds audio
        probs = torch.softmax(model(track.windows), dim=1)
    expected = (probs * track.weights[:, None]).sum(0) / track.weights.sum()
    assert track.weights[-1] < 1.0
    assert list(prediction.probabilities.values()) == pytest.approx(expected.tolist(), abs=1e-6)
    with pytest.raises(ConfigurationError, match="class names"):
        GenreClassifier(model, GENRES[:3], FEATURES)
    with pytest.raises(ConfigurationError, match="spectrograms"):
        GenreClassifier(model, GENRES, FeatureConfig())  # 64 bands for a model of 16


# -- one meaning per option name ----------------------------------------------------------------


def test_predict_many_batch_size_is_files_per_batch_deprecated(tmp_path: Path) -> None:
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"{i}.wav")
        sf.write(str(paths[-1]), synthesize_clip("disco", duration=1.5, sample_rate=8000, seed=i), 8000)
    classifier = GenreClassifier(_model(), GENRES, FEATURES)
    new = classifier.predict_many(paths, files_per_batch=2, num_workers=0)
    with pytest.warns(DeprecationWarning, match="files_per_batch"):
        old = classifier.predict_many(paths, batch_size=2, num_workers=0)
    assert old == new


# -- the old places ---------------------------------------------------------------------------


MOVED = (
    [
        ("musicgenre.inference", name, musicgenre.predict)
        for name in ("GenreClassifier", "Prediction", "FailedPrediction", "SegmentPrediction")
    ]
    + [
        ("musicgenre.tagging", name, musicgenre.predict)
        for name in ("Tagger", "TagResult", "EmbeddingLayer", "FailedPrediction", "SegmentPrediction")
    ]
    + [
        ("musicgenre.models.scoring", name, musicgenre.models.cnn_scoring)
        for name in ("score_overlapping", "shares_windows")
    ]
)


@pytest.mark.parametrize(("module", "name", "home"), MOVED, ids=[f"{m}.{n}" for m, n, _ in MOVED])
def test_moved_names_still_work_with_a_deprecation_warning(module: str, name: str, home: Any) -> None:
    old_module = importlib.import_module(module)
    with pytest.warns(DeprecationWarning, match=rf"{module}\.{name}"):
        old = getattr(old_module, name)
    assert old is getattr(home, name)
    with pytest.raises(AttributeError, match="no_such_name"):
        old_module.no_such_name  # noqa: B018


def test_file_listing_is_still_importable_from_the_old_module_without_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from musicgenre.inference import find_audio_files, walk_files
    assert find_audio_files is musicgenre.io.find_audio_files
    assert walk_files is musicgenre.io.walk_files


def test_top_level_names_come_from_predict_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in ("GenreClassifier", "Tagger", "Prediction", "FailedPrediction"):
            assert getattr(musicgenre, name) is getattr(musicgenre.predict, name)
        assert musicgenre.predict is importlib.import_module("musicgenre.predict")


def test_the_waveform_and_the_file_give_the_same_tags(tmp_path: Path) -> None:
    tagger = Tagger.from_pretrained("MSD_musicnn")
    clip = synthesize_clip("metal", duration=4.0, sample_rate=16000, seed=4)
    path = tmp_path / "metal.wav"
    sf.write(str(path), clip, 16000, subtype="FLOAT")
    from_file, from_wave = tagger.tag(path), tagger.tag(np.asarray(clip), sample_rate=16000)
    assert from_file.path == path
    assert from_wave.path is None
    assert from_file.tags == from_wave.tags


# -- the accelerator's path: workers send windows, this process scores a batch of files at once ---


@pytest.mark.parametrize("workers", [0, 2])
def test_windows_scored_here_in_batches_of_files_equal_windows_scored_in_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    paths = []
    for i, seconds in enumerate((1.2, 3.7, 0.3, 2.5)):
        paths.append(tmp_path / f"{i}.wav")
        sf.write(str(paths[-1]), synthesize_clip("blues", duration=seconds, sample_rate=8000, seed=i), 8000)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF....WAVEfmt junk")
    paths.insert(2, broken)
    classifier = GenreClassifier(_model(), GENRES, FEATURES, overlap=0.5, batch_size=5)
    tagger = Tagger.from_pretrained("MTT_musicnn", batch_size=3)
    in_workers = classifier.predict_many(paths, timeline=True, num_workers=workers, files_per_batch=3)
    tags_in_workers = tagger.tag_many(paths, timeline=True, num_workers=workers, files_per_batch=3)
    monkeypatch.setattr(TrackPipeline, "scores_in_workers", property(lambda self: False))
    here = classifier.predict_many(paths, timeline=True, num_workers=workers, files_per_batch=3)
    tags_here = tagger.tag_many(paths, timeline=True, num_workers=workers, files_per_batch=3)
    assert isinstance(here[2], FailedPrediction)
    assert isinstance(tags_here[2], FailedPrediction)
    for a, b in [*zip(here, in_workers, strict=True), *zip(tags_here, tags_in_workers, strict=True)]:
        assert type(a) is type(b)
        assert a.path == b.path
        if isinstance(a, Prediction) and isinstance(b, Prediction):
            assert a.segments == b.segments
            assert a.probabilities == pytest.approx(b.probabilities, abs=1e-5)
        elif isinstance(a, TagResult) and isinstance(b, TagResult):
            assert a.patches == b.patches
            assert a.tags == pytest.approx(b.tags, abs=1e-5)
