"""``Tagger``: whole-track tags (the mean of musicnn's taggram), embeddings and many files at once.

The end-to-end checks compare the tagger with the original musicnn's whole-track tags
stored in tests/data/musicnn_fixture.npz (see tests/test_musicnn.py for the layer-level
parity): within 0.01, as issue 15 asks.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch

from musicgenre.audio.frontends import MusicnnFrontEnd, musicnn_patches
from musicgenre.errors import AudioDecodeError, CheckpointError, ConfigurationError, TruncatedAudioWarning
from musicgenre.io import load_audio
from musicgenre.models.pretrained import PRETRAINED, load_pretrained
from musicgenre.predict import FailedPrediction, Tagger, TagResult
from musicgenre.synthetic import synthesize_clip

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "data" / "musicnn_fixture.npz"
GTZAN = ROOT.parent / "shared" / "data" / "gtzan-mini"
MODELS = ("MSD_musicnn", "MTT_musicnn")


@pytest.fixture(scope="module")
def taggers() -> dict[str, Tagger]:
    return {name: Tagger.from_pretrained(name) for name in MODELS}


@pytest.fixture(scope="module")
def fixture() -> dict[str, Any]:
    with np.load(FIXTURE) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def maker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_musicnn_fixture", ROOT / "scripts" / "make_musicnn_fixture.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write(path: Path, genre: str, seconds: float, rate: int = 22050, seed: int = 0, channels: int = 1) -> Path:
    clip = synthesize_clip(genre, duration=seconds, sample_rate=rate, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.stack([clip] * channels, axis=1), rate)
    return path


# ----------------------------------------------------------------------------- against the original
@pytest.mark.parametrize("name", MODELS)
def test_tags_match_the_original_on_synthetic_signals(
    taggers: dict[str, Tagger], fixture: dict[str, Any], maker: ModuleType, name: str
) -> None:
    for i, recipe in enumerate(json.loads(str(fixture["recipes"]))):
        result = taggers[name].tag(maker.synth_signal(recipe), sample_rate=16000)
        ours = np.array(list(result.tags.values()))
        assert np.abs(ours - fixture[f"syn{i}_{name}_tags"]).max() < 0.01, recipe
        assert result.patches == len(fixture[f"syn{i}_patches"])


@pytest.mark.real_audio
@pytest.mark.skipif(not GTZAN.is_dir(), reason="../shared/data/gtzan-mini is absent")
@pytest.mark.parametrize("name", MODELS)
def test_tags_match_the_original_on_real_clips(taggers: dict[str, Tagger], fixture: dict[str, Any], name: str) -> None:
    clips = json.loads(str(fixture["clips"]))
    results = taggers[name].tag_many([GTZAN / clip for clip in clips], top_k=1)
    for j, (clip, result) in enumerate(zip(clips, results, strict=True)):
        assert isinstance(result, TagResult), result
        ref = fixture[f"gtz{j}_{name}_tags"]
        assert np.abs(np.array(list(result.tags.values())) - ref).max() < 0.01, clip
        assert result.tag == PRETRAINED[name].labels[int(np.argmax(ref))]
        assert result.patches == len(fixture[f"gtz{j}_{name}_taggram"])


# ----------------------------------------------------------------------------- one track
def test_tags_are_the_mean_of_the_taggram_of_the_decoded_track(taggers: dict[str, Tagger], tmp_path: Path) -> None:
    tagger = taggers["MTT_musicnn"]
    path = _write(tmp_path / "stereo.wav", "jazz", 10.0, rate=44100, channels=2)

    result = tagger.tag(path, top_k=4, timeline=True)

    wave, _ = load_audio(path, sample_rate=16000, mono=True)
    patches = musicnn_patches(MusicnnFrontEnd()(wave[0]))
    with torch.inference_mode():
        taggram = load_pretrained("MTT_musicnn").predict_proba(patches)
    assert result.patches == len(patches) == 3  # 10 s: 3 whole 3-s patches, the rest dropped
    assert list(result.tags) == list(PRETRAINED["MTT_musicnn"].labels)
    np.testing.assert_allclose(list(result.tags.values()), taggram.mean(0).numpy(), atol=1e-5)
    assert result.duration == pytest.approx(10.0, abs=1e-3)
    assert result.path == path
    assert result.model == "MTT_musicnn"
    # top k: the k largest, in order, consistent with the full dictionary
    assert len(result.top_k) == 4
    assert [p for _, p in result.top_k] == sorted(result.tags.values(), reverse=True)[:4]
    assert all(result.tags[t] == p for t, p in result.top_k)
    assert result.tag == result.top_k[0][0]
    # timeline: one entry per patch, back to back, whose mean is the track's tags
    assert result.timeline is not None
    assert [round(s.start, 3) for s in result.timeline] == [0.0, 2.992, 5.984]
    assert result.timeline[-1].end <= result.duration
    mean = np.mean([list(s.probabilities.values()) for s in result.timeline], axis=0)
    np.testing.assert_allclose(mean, list(result.tags.values()), atol=1e-6)
    data = result.to_dict()
    assert set(data["tags"]) == set(result.tags)
    assert [d["tag"] for d in data["top_k"]] == [t for t, _ in result.top_k]
    assert len(data["timeline"]) == 3
    assert data["error"] is None


def test_a_waveform_tags_as_the_same_file(taggers: dict[str, Tagger], tmp_path: Path) -> None:
    tagger = taggers["MSD_musicnn"]
    clip = synthesize_clip("rock", duration=7.0, sample_rate=22050, seed=3)
    path = tmp_path / "rock.flac"
    sf.write(str(path), clip, 22050, subtype="PCM_24")
    from_file = tagger.tag(path)
    from_wave = tagger.tag(torch.from_numpy(clip)[None], sample_rate=22050)
    assert from_wave.path is None
    np.testing.assert_allclose(list(from_wave.tags.values()), list(from_file.tags.values()), atol=1e-3)


def test_a_track_shorter_than_a_patch_is_repeated_to_fill_one(taggers: dict[str, Tagger]) -> None:
    tagger = taggers["MTT_musicnn"]
    short = synthesize_clip("classical", duration=1.0, sample_rate=16000)
    result = tagger.tag(short, sample_rate=16000)  # the original musicnn fails on such input
    assert result.patches == 1
    assert result.duration == pytest.approx(1.0)
    assert all(0.0 < p < 1.0 for p in result.tags.values())
    frames = MusicnnFrontEnd()(torch.from_numpy(short))  # 63 frames, tiled to 187 as musicnn's training did
    patch = tagger.patches(short, sample_rate=16000)[0]
    torch.testing.assert_close(patch, torch.cat([frames] * 3)[:187])


def test_top_k_is_capped_and_checked(taggers: dict[str, Tagger]) -> None:
    tagger = taggers["MSD_musicnn"]
    wave = torch.zeros(16000 * 3)
    assert len(tagger.tag(wave, top_k=500).top_k) == 50
    with pytest.raises(ConfigurationError, match="top_k"):
        tagger.tag(wave, top_k=0)


@pytest.mark.parametrize(
    "bad",
    [np.zeros(0, dtype=np.float32), np.zeros((2, 2, 100), dtype=np.float32), np.full(16000, np.nan, dtype=np.float32)],
)
def test_bad_waveforms_raise_a_typed_error(taggers: dict[str, Tagger], bad: np.ndarray) -> None:
    with pytest.raises(ConfigurationError, match="waveform"):
        taggers["MSD_musicnn"].tag(bad, sample_rate=16000)


def test_a_bad_file_raises_audio_decode_error_naming_it(taggers: dict[str, Tagger], tmp_path: Path) -> None:
    path = tmp_path / "broken.wav"
    path.write_bytes(b"RIFF\x24\x00\x00\x00WAVE" + bytes(100))
    with pytest.raises(AudioDecodeError, match=r"broken\.wav"):
        taggers["MSD_musicnn"].tag(path)


# ----------------------------------------------------------------------------- embeddings
@pytest.mark.parametrize(("layer", "size"), [("penultimate", 200), ("pooled", 1506)])
def test_embeddings_are_the_mean_over_patches(taggers: dict[str, Tagger], layer: str, size: int) -> None:
    tagger = taggers["MSD_musicnn"]
    clip = synthesize_clip("metal", duration=9.5, sample_rate=16000, seed=1)
    vector = tagger.embed(clip, sample_rate=16000, layer=layer)  # type: ignore[arg-type]
    patches = tagger.patches(clip, sample_rate=16000)
    model = load_pretrained("MSD_musicnn")
    with torch.inference_mode():
        per_patch = model.embed(patches) if layer == "penultimate" else model.pooled(patches)
    assert vector.shape == (size,)
    assert vector.dtype == torch.float32
    torch.testing.assert_close(vector, per_patch.mean(0), atol=1e-4, rtol=1e-4)


def test_embed_rejects_an_unknown_layer(taggers: dict[str, Tagger]) -> None:
    with pytest.raises(ConfigurationError, match="layer"):
        taggers["MSD_musicnn"].embed(torch.zeros(16000), layer="logits")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- many files
def test_tag_many_keeps_order_batches_tracks_and_reports_bad_files(taggers: dict[str, Tagger], tmp_path: Path) -> None:
    good = [
        _write(tmp_path / "a.wav", "blues", 6.5, seed=1),
        _write(tmp_path / "b.flac", "disco", 4.0, rate=16000, seed=2),
        _write(tmp_path / "c.wav", "pop", 12.0, rate=8000, seed=3, channels=2),
    ]
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x24\x00\x00\x00WAVE" + bytes(100))
    empty = tmp_path / "empty.flac"
    empty.touch()
    paths = [good[0], broken, good[1], empty, good[2]]
    small = Tagger.from_pretrained("MTT_musicnn", batch_size=3)  # passes that cut across tracks

    results = small.tag_many(paths, top_k=2, files_per_batch=5)

    assert [r.path for r in results] == paths
    failed = [r for r in results if isinstance(r, FailedPrediction)]
    assert [f.path for f in failed] == [broken, empty]
    assert all(f.error.startswith(f"{f.path}: ") for f in failed)
    one_by_one = [taggers["MTT_musicnn"].tag(p, top_k=2) for p in good]
    tagged = [r for r in results if isinstance(r, TagResult)]
    assert [r.patches for r in tagged] == [2, 1, 4]
    for batched, single in zip(tagged, one_by_one, strict=True):
        assert [t for t, _ in batched.top_k] == [t for t, _ in single.top_k]
        np.testing.assert_allclose(list(batched.tags.values()), list(single.tags.values()), atol=1e-5)


def test_tag_many_in_a_worker_process(taggers: dict[str, Tagger], tmp_path: Path) -> None:
    paths = [_write(tmp_path / f"{i}.wav", "reggae", 3.5, seed=i) for i in range(2)]
    in_process = taggers["MSD_musicnn"].tag_many(paths)
    workers = taggers["MSD_musicnn"].tag_many(paths, num_workers=1, files_per_batch=1)
    for a, b in zip(in_process, workers, strict=True):
        assert isinstance(a, TagResult)
        assert isinstance(b, TagResult)
        assert a.tags == pytest.approx(b.tags, abs=1e-6)


@pytest.mark.parametrize("workers", [0, 1])
def test_decoding_warnings_are_kept_on_each_tag_result(
    taggers: dict[str, Tagger], tmp_path: Path, workers: int
) -> None:
    """A truncated file is tagged, warned about once, and its result keeps the warning, as a prediction does."""
    good = _write(tmp_path / "good.wav", "jazz", 3.5)
    cut = _write(tmp_path / "cut.wav", "rock", 4.0, rate=16000)
    cut.write_bytes(cut.read_bytes()[: 44 + 2 * 16000 * 3])  # 3 of the 4 declared seconds
    tagger = taggers["MSD_musicnn"]
    with pytest.warns(TruncatedAudioWarning) as record:
        results = tagger.tag_many([cut, good], num_workers=workers, files_per_batch=1)
    assert [str(w.message).split(":")[0] for w in record] == [str(cut)]
    with pytest.warns(TruncatedAudioWarning):
        single = tagger.tag(cut)
    assert isinstance(results[0], TagResult)
    assert isinstance(results[1], TagResult)
    for result in (results[0], single):
        assert len(result.warnings) == 1
        assert result.warnings[0].startswith(f"{cut}: is truncated")
        assert result.to_dict()["warnings"] == list(result.warnings)
    assert results[1].warnings == ()
    assert "warnings" not in results[1].to_dict()


def test_tag_many_checks_its_arguments(taggers: dict[str, Tagger]) -> None:
    with pytest.raises(ConfigurationError):
        taggers["MSD_musicnn"].tag_many([], files_per_batch=0)
    assert taggers["MSD_musicnn"].tag_many([]) == []


# ----------------------------------------------------------------------------- construction
def test_from_pretrained_names_the_known_models() -> None:
    assert Tagger.available() == list(MODELS)
    with pytest.raises(ConfigurationError, match="MSD_musicnn, MTT_musicnn"):
        Tagger.from_pretrained("MSD_vgg")


def test_the_two_models_have_their_own_tags(taggers: dict[str, Tagger]) -> None:
    msd, mtt = taggers["MSD_musicnn"].labels, taggers["MTT_musicnn"].labels
    assert len(msd) == len(mtt) == 50
    assert {"rock", "jazz", "Hip-Hop"} <= set(msd)
    assert {"piano", "techno", "harpsichord"} <= set(mtt)
    assert "harpsichord" not in msd


def test_constructor_checks_labels_and_sizes() -> None:
    model = load_pretrained("MSD_musicnn")
    with pytest.raises(ConfigurationError, match="3 tag names"):
        Tagger(model, ["a", "b", "c"])
    with pytest.raises(ConfigurationError, match="batch_size"):
        Tagger(model, PRETRAINED["MSD_musicnn"].labels, batch_size=0)
    with pytest.raises(ConfigurationError, match="mel bands"):
        Tagger(model, PRETRAINED["MSD_musicnn"].labels, front_end=MusicnnFrontEnd(n_mels=64))


def test_a_damaged_weight_file_is_a_typed_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import musicgenre.models.pretrained as pretrained

    damaged = tmp_path / "MSD_musicnn.safetensors"
    damaged.write_bytes(b"\x00" * 64)
    monkeypatch.setattr(pretrained, "weights_path", lambda name: damaged)
    with pytest.raises(CheckpointError, match="altered or damaged"):
        Tagger.from_pretrained("MSD_musicnn")


def test_the_docs_page_lists_each_models_tags_in_order() -> None:
    page = ROOT / "docs" / "pretrained.rst"
    if not page.is_file():
        pytest.skip("needs the source tree's docs")
    text = " ".join(page.read_text(encoding="utf-8").split())
    for name, entry in PRETRAINED.items():
        assert ", ".join(f"``{tag}``" for tag in entry.labels) in text, f"docs/pretrained.rst: {name}'s tags"


def test_the_old_frontend_spelling_warns_and_still_works() -> None:
    tagger = Tagger.from_pretrained("MSD_musicnn")
    with pytest.warns(DeprecationWarning, match="front_end"):
        assert tagger.frontend is tagger.front_end
    with pytest.warns(DeprecationWarning, match="front_end="):
        again = Tagger(tagger.model, tagger.labels, frontend=tagger.front_end)
    assert again.front_end is tagger.front_end
