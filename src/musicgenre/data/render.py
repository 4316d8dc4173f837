"""Drawing spectrogram pictures the way Kaggle's GTZAN images are drawn.

:func:`render_spectrogram_image` draws one clip as Kaggle drew its
``images_original/<genre>/<genre>00000.png`` (a mel spectrogram in matplotlib's ``magma``
colours, white margins, a thin frame, no axes); :func:`render_gtzan_images` turns a GTZAN
audio folder into such an image folder, which
:class:`~musicgenre.data.images.GTZANImageDataset` reads. The synthetic image set is
:func:`musicgenre.synthetic.make_synthetic_gtzan_images`.

Rendering needs Pillow and matplotlib, the ``images`` extra
(``pip install 'musicgenre[images]'``); without them it raises
:class:`~musicgenre.errors.MissingDependencyError`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from numpy.typing import NDArray

from musicgenre.audio import functional as F
from musicgenre.data.gtzan import GTZANDataset, parse_clip_name
from musicgenre.errors import ConfigurationError, MissingDependencyError
from musicgenre.genres import GENRES

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

__all__ = ["IMAGE_LAYOUTS", "render_gtzan_images", "render_spectrogram_image"]

#: Folder layouts the renderers can write, as paths relative to the root.
IMAGE_LAYOUTS: dict[str, str] = {
    "kaggle": "Data/images_original/{genre}/{genre}{number:05d}.png",
    "folders": "{genre}/{genre}{number:05d}.png",
    "flat": "{genre}{number:05d}.png",
}

# Kaggle's renders are matplotlib figures of 6 x 4 in at 72 dpi (432 x 288 pixels) with
# the default axes box: a one-pixel frame (black top and left, grey right and bottom,
# darker grey corners) around a 334 x 216 picture of the spectrogram. Measured on the
# images Kaggle ships.
_CANVAS_WH = (432, 288)
_FRAME_LTRB = (54, 35, 389, 252)
_FRAME_GREY = 51
_CORNER_GREY = 19


def _require_renderer() -> None:
    try:
        import matplotlib  # noqa: F401
        import PIL.Image  # noqa: F401
    except ImportError:
        raise MissingDependencyError(
            "spectrogram images are drawn with Pillow and matplotlib, which are not both installed; "
            "install them with: pip install 'musicgenre[images]'"
        ) from None


@functools.lru_cache(maxsize=1)
def magma_colours() -> NDArray[np.uint8]:
    """Matplotlib's ``magma`` colour map as a ``(256, 3)`` uint8 lookup table (dark is quiet).

    Raises
    ------
    MissingDependencyError
        If matplotlib is not installed.
    """
    _require_renderer()
    import matplotlib

    rgba = matplotlib.colormaps["magma"](np.arange(256))
    table: NDArray[np.uint8] = np.rint(np.asarray(rgba)[:, :3] * 255.0).astype(np.uint8)
    return table


@functools.lru_cache(maxsize=8)
def _slaney_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> torch.Tensor:
    """The mel filter bank librosa uses by default (Slaney scale and area norm), ``(n_fft // 2 + 1, n_mels)``."""
    return F.mel_filterbank(sample_rate, n_fft, n_mels, scale="slaney")


def render_spectrogram_image(
    waveform: torch.Tensor | NDArray[np.floating[Any]],
    sample_rate: int,
    *,
    n_fft: int = 2048,
    hop_length: int = 512,
    n_mels: int = 128,
    db_range: float = 40.0,
) -> PILImage:
    """Draw a clip's mel spectrogram the way Kaggle's GTZAN images are drawn.

    The picture is a 432 x 288 RGBA image: white margins, a thin frame, and inside it the
    mel power spectrogram (librosa's defaults: n_fft 2048, hop 512, 128 Slaney mel bands)
    in dB below its peak, the top *db_range* dB coloured with matplotlib's ``magma``
    (dark is quiet), low frequencies at the bottom, stretched to 334 x 216 pixels
    (bilinear). The colours come from matplotlib's colour map; the picture itself is
    composed with numpy and Pillow, so a 30-s clip takes tens of milliseconds.

    Parameters
    ----------
    waveform
        Samples, shape ``(time,)`` or ``(channels, time)`` (channels are averaged).
    sample_rate
        Rate of *waveform* in Hz (Kaggle's images are of 22050 Hz audio).
    n_fft, hop_length, n_mels
        STFT size (Hann window of that length), hop and mel bands.
    db_range
        Range of mel power shown below the peak, in dB; quieter cells are drawn darkest.
        Kaggle's images show 40 dB (measured on them; librosa's ``amplitude_to_db`` with
        its default 80 dB range gives that when handed a power spectrogram).

    Returns
    -------
    PIL.Image.Image
        Mode ``"RGBA"``, 432 x 288, fully opaque; save it with ``image.save(path)``.

    Raises
    ------
    MissingDependencyError
        If Pillow or matplotlib is not installed.

    Examples
    --------
    >>> from musicgenre.synthetic import synthesize_clip
    >>> image = render_spectrogram_image(synthesize_clip("rock", duration=2.0), 22050)
    >>> image.mode, image.size
    ('RGBA', (432, 288))
    """
    _require_renderer()
    from PIL import Image

    if db_range <= 0 or min(n_fft, hop_length, n_mels, sample_rate) <= 0:
        raise ConfigurationError("sample_rate, n_fft, hop_length, n_mels and db_range must be positive")
    wave = torch.as_tensor(np.asarray(waveform, dtype=np.float32))
    if wave.dim() == 2:
        wave = F.to_mono(wave)[0]
    if wave.dim() != 1 or wave.numel() == 0:
        raise ConfigurationError(f"waveform must be (time,) or (channels, time) and non-empty, got {tuple(wave.shape)}")
    if wave.numel() <= n_fft // 2:  # reflect padding needs more samples than half a window
        wave = torch.nn.functional.pad(wave, (0, n_fft // 2 + 1 - wave.numel()))
    # librosa's melspectrogram (centred frames, reflect padding as in the librosa of 2020),
    # with |X|^2 (no square root to undo).
    power = F.mel_spectrogram(
        wave,
        sample_rate,
        n_fft=n_fft,
        hop_length=hop_length,
        fbanks=_slaney_filterbank(sample_rate, n_fft, n_mels),
        pad_mode="reflect",
    )  # (n_mels, frames)
    db = 10.0 * torch.log10(power.clamp(min=1e-10))
    db = (db - db.max()).clamp(min=-db_range)
    low = float(db.min())
    # matplotlib scales the colours from the data's minimum to its maximum (0 dB here).
    level = (db - low) / -low if low < 0 else torch.zeros_like(db)
    picture = Image.fromarray(level.flip(0).numpy().astype(np.float32))
    left, top, right, bottom = _FRAME_LTRB
    picture = picture.resize((right - left - 1, bottom - top - 1), Image.Resampling.BILINEAR)
    index = np.clip(np.rint(np.asarray(picture) * 255.0), 0, 255).astype(np.uint8)
    canvas = np.full((_CANVAS_WH[1], _CANVAS_WH[0], 4), 255, dtype=np.uint8)
    canvas[top + 1 : bottom, left + 1 : right, :3] = magma_colours()[index]
    canvas[top : bottom + 1, right, :3] = _FRAME_GREY
    canvas[bottom, left : right + 1, :3] = _FRAME_GREY
    canvas[top, left : right + 1, :3] = 0
    canvas[top : bottom + 1, left, :3] = 0
    for row, column in ((top, right), (bottom, left), (bottom, right)):  # where black and grey lines meet
        canvas[row, column, :3] = _CORNER_GREY
    return Image.fromarray(canvas)


def render_gtzan_images(
    audio_root: str | os.PathLike[str],
    out_root: str | os.PathLike[str],
    *,
    layout: str = "kaggle",
    genres: Sequence[str] = GENRES,
    sample_rate: int = 22050,
) -> Path:
    """Render every clip of a GTZAN audio folder to a Kaggle-style PNG.

    For users without Kaggle's images: the result is a folder that
    :class:`~musicgenre.data.images.GTZANImageDataset` reads like Kaggle's ``images_original``.

    Parameters
    ----------
    audio_root
        GTZAN audio in any layout :class:`~musicgenre.data.GTZANDataset` reads; its
        unreadable files are skipped with its usual warning.
    out_root
        Folder to write into (created if needed).
    layout
        One of :data:`IMAGE_LAYOUTS`: ``"kaggle"``
        (``Data/images_original/jazz/jazz00000.png``), ``"folders"`` or ``"flat"``.
    genres
        Genres to render.
    sample_rate
        Rate the audio is resampled to before rendering (Kaggle's: 22050 Hz).

    Returns
    -------
    pathlib.Path
        *out_root*.
    """
    if layout not in IMAGE_LAYOUTS:
        raise ConfigurationError(f"unknown layout {layout!r}; choose from {list(IMAGE_LAYOUTS)}")
    _require_renderer()
    audio = GTZANDataset(audio_root, classes=genres, sample_rate=sample_rate)
    base = Path(out_root)
    for index, path in enumerate(audio.files):
        parsed = parse_clip_name(path.name)
        assert parsed is not None  # the dataset only keeps GTZAN-named files
        target = base / IMAGE_LAYOUTS[layout].format(genre=parsed[0], number=parsed[1])
        target.parent.mkdir(parents=True, exist_ok=True)
        render_spectrogram_image(audio.load(index), sample_rate).save(target, format="PNG")
    return base
