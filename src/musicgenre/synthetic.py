"""Every synthetic generator: GTZAN-shaped audio sets of ten audibly different fake genres, and their images.

It lets the examples and tests run the whole pipeline with no download. Every genre has
its own timbre, register and rhythm (plucked notes, drum patterns, distorted chords...),
with tempo, pitch and loudness drawn per clip, so a model must generalise a little.
:func:`synthesize_clip` renders one clip, :func:`make_synthetic_gtzan` writes a set of
audio files, and :func:`make_synthetic_gtzan_images` the same set drawn as Kaggle-style
spectrogram pictures.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import soundfile as sf
from numpy.typing import NDArray

from musicgenre.data.render import IMAGE_LAYOUTS, render_gtzan_images
from musicgenre.errors import ConfigurationError
from musicgenre.genres import GENRES

__all__ = ["LAYOUTS", "make_synthetic_gtzan", "make_synthetic_gtzan_images", "synthesize_clip"]

FloatArray = NDArray[np.float64]
Rng = np.random.Generator

#: Folder layouts :func:`make_synthetic_gtzan` can write, as paths relative to the root.
LAYOUTS: dict[str, str] = {
    "original": "genres/{genre}/{genre}.{number:05d}{ext}",
    "kaggle": "Data/genres_original/{genre}/{genre}.{number:05d}{ext}",
    "folders": "{genre}/{genre}.{number:05d}{ext}",
    "flat": "{genre}.{number:05d}{ext}",
}


def _beats(n: int, sr: int, bpm: float, offset: float = 0.0, subdivision: float = 1.0) -> FloatArray:
    period = 60.0 / bpm / subdivision
    times = np.arange(offset * period, n / sr, period)
    return (times * sr).astype(np.int64)


def _place(out: FloatArray, onsets: FloatArray, sound: FloatArray) -> None:
    for start in onsets:
        end = min(len(out), start + len(sound))
        out[start:end] += sound[: end - start]


def _decay(n: int, sr: int, seconds: float) -> FloatArray:
    return np.exp(-np.arange(n) / (sr * seconds))


def _kick(sr: int, rng: Rng) -> FloatArray:
    n = int(0.25 * sr)
    t = np.arange(n) / sr
    freq = 50 + 60 * np.exp(-t * 30) * rng.uniform(0.8, 1.2)
    return np.asarray(np.sin(2 * np.pi * np.cumsum(freq) / sr) * _decay(n, sr, 0.08))


def _noise_hit(sr: int, rng: Rng, seconds: float, bright: bool) -> FloatArray:
    n = int(seconds * 4 * sr)
    noise = rng.standard_normal(n)
    if bright:  # crude high-pass: first difference
        noise = np.diff(noise, prepend=0.0)
    return np.asarray(noise * _decay(n, sr, seconds) * 0.4)


def _tone(freq: float, n: int, sr: int, harmonics: int = 1, vibrato: float = 0.0) -> FloatArray:
    t = np.arange(n) / sr
    phase = 2 * np.pi * freq * t + vibrato * np.sin(2 * np.pi * 5.0 * t)
    out = np.zeros(n)
    for k in range(1, harmonics + 1):
        out += np.sin(k * phase) / k
    return out / harmonics


def _notes(
    n: int, sr: int, rng: Rng, bpm: float, scale: FloatArray, seconds: float, harmonics: int, sub: float = 1.0
) -> FloatArray:
    out = np.zeros(n)
    length = int(seconds * 4 * sr)
    for start in _beats(n, sr, bpm, subdivision=sub):
        note = _tone(float(rng.choice(scale)), length, sr, harmonics) * _decay(length, sr, seconds)
        _place(out, np.array([start]), note)
    return out


def _blues(n: int, sr: int, rng: Rng) -> FloatArray:
    root = rng.uniform(98, 131)
    scale = root * 2 ** (np.array([0, 3, 5, 6, 7, 10]) / 12)
    bpm = rng.uniform(65, 85)
    out = np.zeros(n)
    length = int(60 / bpm * sr)
    for start in _beats(n, sr, bpm):
        note = _tone(float(rng.choice(scale)), length, sr, harmonics=6, vibrato=0.6)
        _place(out, np.array([start]), note * np.hanning(length))
    return out


def _classical(n: int, sr: int, rng: Rng) -> FloatArray:
    root = rng.uniform(220, 330)
    chord = sum(_tone(root * r, n, sr, harmonics=2) for r in (1.0, 1.26, 1.5, 2.0))
    swell = 0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.1, 0.3) * np.arange(n) / sr)
    return chord * swell


def _country(n: int, sr: int, rng: Rng) -> FloatArray:
    root = rng.uniform(196, 262)
    scale = root * 2 ** (np.array([0, 2, 4, 7, 9, 12]) / 12)
    return _notes(n, sr, rng, rng.uniform(100, 120), scale, 0.12, harmonics=8, sub=2.0)


def _disco(n: int, sr: int, rng: Rng) -> FloatArray:
    bpm = rng.uniform(115, 125)
    out = np.zeros(n)
    _place(out, _beats(n, sr, bpm), _kick(sr, rng))
    _place(out, _beats(n, sr, bpm, offset=0.5), _noise_hit(sr, rng, 0.06, bright=True))
    bass = rng.uniform(55, 82)
    out += 0.3 * _notes(n, sr, rng, bpm, np.array([bass, 2 * bass]), 0.1, harmonics=3, sub=2.0)
    return out


def _hiphop(n: int, sr: int, rng: Rng) -> FloatArray:
    bpm = rng.uniform(82, 95)
    out = np.zeros(n)
    _place(out, _beats(n, sr, bpm / 2), 1.5 * _kick(sr, rng))
    _place(out, _beats(n, sr, bpm / 2, offset=0.5), _noise_hit(sr, rng, 0.09, bright=False))
    out += 0.5 * _tone(rng.uniform(41, 55), n, sr) * (0.5 + 0.5 * np.sign(np.sin(np.pi * bpm / 60 * np.arange(n) / sr)))
    return out


def _jazz(n: int, sr: int, rng: Rng) -> FloatArray:
    bpm = rng.uniform(130, 170)
    out = np.zeros(n)
    ride = _noise_hit(sr, rng, 0.15, bright=True) * 0.5
    _place(out, _beats(n, sr, bpm), ride)
    _place(out, _beats(n, sr, bpm, offset=0.66), 0.6 * ride)
    walk = rng.uniform(73, 98) * 2 ** (np.arange(0, 12, 2) / 12)
    out += _notes(n, sr, rng, bpm, walk, 0.2, harmonics=2)
    return out


def _metal(n: int, sr: int, rng: Rng) -> FloatArray:
    root = rng.uniform(73, 98)
    chord = _tone(root, n, sr, harmonics=10) + _tone(root * 1.5, n, sr, harmonics=10)
    tremolo = 0.6 + 0.4 * (np.sin(2 * np.pi * rng.uniform(10, 14) * np.arange(n) / sr) > 0)
    return np.asarray(np.tanh(8 * chord * tremolo) + 0.2 * rng.standard_normal(n))


def _pop(n: int, sr: int, rng: Rng) -> FloatArray:
    root = rng.uniform(440, 660)
    scale = root * 2 ** (np.array([0, 2, 4, 5, 7, 9, 11]) / 12)
    bpm = rng.uniform(100, 125)
    out = np.zeros(n)
    length = int(30 / bpm * sr)
    for start in _beats(n, sr, bpm, subdivision=2.0):
        note = np.sign(_tone(float(rng.choice(scale)), length, sr)) * 0.3
        _place(out, np.array([start]), note * np.hanning(length))
    _place(out, _beats(n, sr, bpm / 2, offset=0.5), _noise_hit(sr, rng, 0.05, bright=True))
    return out


def _reggae(n: int, sr: int, rng: Rng) -> FloatArray:
    bpm = rng.uniform(68, 80)
    root = rng.uniform(165, 220)
    length = int(0.12 * sr)
    stab = sum(_tone(root * r, length, sr, harmonics=4) for r in (1.0, 1.19, 1.5)) * _decay(length, sr, 0.05)
    out = np.zeros(n)
    _place(out, _beats(n, sr, bpm, offset=0.5), stab)
    out += 0.6 * _notes(n, sr, rng, bpm / 2, np.array([root / 4, root / 3]), 0.3, harmonics=2)
    return out


def _rock(n: int, sr: int, rng: Rng) -> FloatArray:
    bpm = rng.uniform(110, 140)
    root = rng.uniform(110, 147)
    chord = np.tanh(3 * (_tone(root, n, sr, harmonics=5) + _tone(root * 1.5, n, sr, harmonics=5)))
    out = 0.5 * chord
    _place(out, _beats(n, sr, bpm / 2), _kick(sr, rng))
    _place(out, _beats(n, sr, bpm / 2, offset=0.5), _noise_hit(sr, rng, 0.1, bright=False))
    return out


_GENERATORS: dict[str, Callable[[int, int, Rng], FloatArray]] = {
    "blues": _blues,
    "classical": _classical,
    "country": _country,
    "disco": _disco,
    "hiphop": _hiphop,
    "jazz": _jazz,
    "metal": _metal,
    "pop": _pop,
    "reggae": _reggae,
    "rock": _rock,
}


def synthesize_clip(
    genre: str, *, duration: float = 5.0, sample_rate: int = 22050, noise: float = 0.0, seed: int = 0
) -> NDArray[np.float32]:
    """Render one clip of a fake *genre* as float32 samples in [-0.9, 0.9].

    Parameters
    ----------
    genre
        One of :data:`~musicgenre.genres.GENRES`.
    duration
        Length in seconds.
    sample_rate
        Samples per second.
    noise
        Standard deviation of white noise added after peak normalisation (0.3 is loud).
    seed
        Seed of this clip's tempo, pitch and noise draws.

    Returns
    -------
    numpy.ndarray
        Shape ``(round(duration * sample_rate),)``, float32.

    Examples
    --------
    >>> synthesize_clip("disco", duration=0.5).shape
    (11025,)
    """
    if genre not in _GENERATORS:
        raise ConfigurationError(f"unknown synthetic genre {genre!r}; choose from {list(_GENERATORS)}")
    n = max(1, round(duration * sample_rate))
    rng = np.random.default_rng(seed)
    signal = _GENERATORS[genre](n, sample_rate, rng)
    peak = float(np.max(np.abs(signal))) or 1.0
    signal = signal / peak * rng.uniform(0.5, 0.9)
    if noise > 0:
        signal = signal + noise * rng.standard_normal(n)
    return np.clip(signal, -1.0, 1.0).astype(np.float32)


def make_synthetic_gtzan(
    root: str | os.PathLike[str],
    *,
    clips_per_genre: int = 10,
    duration: float = 5.0,
    sample_rate: int = 22050,
    genres: tuple[str, ...] = GENRES,
    layout: str = "original",
    extension: str = ".wav",
    noise: float = 0.0,
    seed: int = 0,
) -> Path:
    """Write a GTZAN-shaped dataset of synthetic clips and return its root.

    Parameters
    ----------
    root
        Folder to write into (created if needed).
    clips_per_genre
        Clips per genre, numbered from 0 as in GTZAN.
    duration, sample_rate, noise
        See :func:`synthesize_clip`.
    genres
        Genres to write.
    layout
        One of :data:`LAYOUTS`: ``"original"`` (``genres/blues/blues.00000.wav``),
        ``"kaggle"``, ``"folders"`` or ``"flat"``.
    extension
        File type, e.g. ``".wav"``, ``".flac"``, ``".au"``, ``".ogg"`` or ``".mp3"``.
    seed
        Seed of the whole set; the same seed writes the same samples.

    Returns
    -------
    pathlib.Path
        *root*, ready for :class:`~musicgenre.data.GTZANDataset`.
    """
    if layout not in LAYOUTS:
        raise ConfigurationError(f"unknown layout {layout!r}; choose from {list(LAYOUTS)}")
    if clips_per_genre < 1:
        raise ConfigurationError(f"clips_per_genre must be at least 1, got {clips_per_genre}")
    base = Path(root)
    subtype = {".wav": "PCM_16", ".au": "PCM_16", ".flac": "PCM_16", ".aiff": "PCM_16"}.get(extension)
    for g_index, genre in enumerate(genres):
        for number in range(clips_per_genre):
            clip_seed = seed * 1_000_003 + g_index * 10_007 + number
            samples = synthesize_clip(genre, duration=duration, sample_rate=sample_rate, noise=noise, seed=clip_seed)
            path = base / LAYOUTS[layout].format(genre=genre, number=number, ext=extension)
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(path), samples, sample_rate, subtype=subtype)
    return base


def make_synthetic_gtzan_images(
    root: str | os.PathLike[str],
    *,
    clips_per_genre: int = 10,
    duration: float = 5.0,
    genres: Sequence[str] = GENRES,
    layout: str = "kaggle",
    noise: float = 0.0,
    seed: int = 0,
) -> Path:
    """Write a Kaggle-shaped image set rendered from synthetic clips and return its root.

    The clips are those :func:`make_synthetic_gtzan` writes with
    the same arguments, so an image and an audio set made with one seed match clip for clip.

    Parameters
    ----------
    root
        Folder to write into (created if needed).
    clips_per_genre, duration, noise, seed
        See :func:`make_synthetic_gtzan`.
    genres
        Genres to write.
    layout
        One of :data:`~musicgenre.data.render.IMAGE_LAYOUTS`.

    Returns
    -------
    pathlib.Path
        *root*, ready for :class:`~musicgenre.data.images.GTZANImageDataset`.
    """
    if layout not in IMAGE_LAYOUTS:
        raise ConfigurationError(f"unknown layout {layout!r}; choose from {list(IMAGE_LAYOUTS)}")
    with tempfile.TemporaryDirectory(prefix="musicgenre-audio-") as tmp:
        make_synthetic_gtzan(
            tmp, clips_per_genre=clips_per_genre, duration=duration, genres=tuple(genres), noise=noise, seed=seed
        )
        return render_gtzan_images(tmp, root, layout=layout, genres=genres)
