"""Kaggle's GTZAN spectrogram images as a torch ``Dataset``, and a renderer that makes more.

Kaggle's copy of GTZAN ships, beside the audio, one picture per clip:
``Data/images_original/<genre>/<genre>00000.png``, a 432 x 288 RGBA render of the clip's
mel spectrogram (magma colours, white margins, no axes). The file names have no dot
between genre and number; the label is the alphabetic prefix, as
:func:`~musicgenre.data.gtzan.parse_clip_name` reads it.

:class:`GTZANImageDataset` finds those PNGs in Kaggle's layout (with or without ``Data/``),
in genre folders or in one flat folder, with the same skip report as
:class:`~musicgenre.data.GTZANDataset`, and delivers each as the reference does: alpha
dropped, scaled to [0, 1], resized to 128 x 128. :func:`render_spectrogram_image` draws a
clip the way Kaggle's images are drawn, so :func:`render_gtzan_images` turns any GTZAN
audio folder into an image folder and :func:`make_synthetic_gtzan_images` writes a
synthetic one.

Decoding and rendering need Pillow, the ``images`` extra
(``pip install 'musicgenre[images]'``); without it they raise
:class:`~musicgenre.errors.MissingDependencyError`.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from numpy.typing import NDArray

from musicgenre.audio import functional as F
from musicgenre.data.gtzan import (
    GENRES,
    GTZANDataset,
    LabelledFileDataset,
    SkippedFile,
    _keep_readable,
    _warn_skipped,
    parse_clip_name,
    scan_clips,
)
from musicgenre.errors import ConfigurationError, DatasetError, MissingDependencyError

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

__all__ = [
    "IMAGE_EXTENSIONS",
    "IMAGE_LAYOUTS",
    "IMAGE_SIZE",
    "GTZANImageDataset",
    "load_image",
    "make_synthetic_gtzan_images",
    "render_gtzan_images",
    "render_spectrogram_image",
]

#: Files the image dataset reads (the reference reads PNGs only).
IMAGE_EXTENSIONS: tuple[str, ...] = (".png",)
#: ``(height, width)`` every image is resized to, the reference's 128 x 128.
IMAGE_SIZE: tuple[int, int] = (128, 128)
#: Folder layouts the renderers can write, as paths relative to the root.
IMAGE_LAYOUTS: dict[str, str] = {
    "kaggle": "Data/images_original/{genre}/{genre}{number:05d}.png",
    "folders": "{genre}/{genre}{number:05d}.png",
    "flat": "{genre}{number:05d}.png",
}

_INSTALL = "pip install 'musicgenre[images]'"
# Other picture formats are reported (not silently ignored): the reference reads PNG only.
_OTHER_IMAGES = (".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp")
_LAYOUT_HELP = (
    "Kaggle:   ROOT/Data/images_original/<genre>/<genre>00000.png (or without Data/)",
    "folders:  ROOT/<genre>/<genre>00000.png",
    "flat:     ROOT/<genre>00000.png",
)

# Kaggle's renders are matplotlib figures of 6 x 4 in at 72 dpi (432 x 288 pixels) with
# the default axes box: a one-pixel frame (black top and left, grey right and bottom,
# darker grey corners) around a 334 x 216 picture of the spectrogram. Measured on the
# images Kaggle ships.
_CANVAS_WH = (432, 288)
_FRAME_LTRB = (54, 35, 389, 252)
_FRAME_GREY = 51
_CORNER_GREY = 19
# matplotlib's "magma" colour map sampled at 33 evenly spaced points; interpolating them
# linearly gives every one of its 256 colours within 2 levels (tests check this).
_MAGMA = bytes.fromhex(
    "000004 030312 0a0822 130d34 1d1147 29115a 36106b 440f76 51127c 5d177f 6a1c81 "
    "762181 832681 902a81 9c2e7f aa337d b73779 c43c75 d0416f dc4869 e75263 ef5d5e "
    "f56b5c f9795d fc8961 fd9869 fea772 feb67c fec488 fed395 fde2a3 fcf0b2 fcfdbf"
)


def _colour_table(anchors: bytes) -> NDArray[np.uint8]:
    points = np.frombuffer(anchors, dtype=np.uint8).reshape(-1, 3).astype(np.float64)
    where = np.linspace(0.0, 1.0, len(points))
    levels = np.linspace(0.0, 1.0, 256)
    table = np.stack([np.interp(levels, where, points[:, c]) for c in range(3)], axis=1)
    return np.rint(table).astype(np.uint8)


_MAGMA_TABLE = _colour_table(_MAGMA)


def _require_pillow() -> None:
    try:
        import PIL.Image  # noqa: F401
    except ImportError:
        raise MissingDependencyError(
            f"spectrogram images are read and written with Pillow, which is not installed; install it with: {_INSTALL}"
        ) from None


def _read(path: Path, size: tuple[int, int] | None, *, decode: bool) -> NDArray[np.uint8] | None:
    """Decode *path* into ``(height, width, 3)`` uint8 RGB (or only verify it); raises DatasetError."""
    _require_pillow()
    from PIL import Image

    try:
        with Image.open(path) as img:
            if img.format != "PNG":
                kind = img.format or "an unknown format"
                raise DatasetError(f"not a PNG (it holds {kind}); convert it to PNG", path=path)
            if not decode:  # signature and chunk checksums only: cheap
                img.verify()
                return None
            img.load()
            # Palette images go through RGBA so their transparency is read without a warning;
            # RGBA -> RGB drops the alpha channel, as the reference's img[..., :3] does.
            rgb = img.convert("RGBA") if img.mode == "P" else img
            rgb = rgb if rgb.mode == "RGB" else rgb.convert("RGB")
            if size is not None and rgb.size != (size[1], size[0]):
                rgb = rgb.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            pixels: NDArray[np.uint8] = np.array(rgb, dtype=np.uint8)
            return pixels
    except DatasetError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        reason = f"not a readable image, or it is corrupt ({exc}); re-render or remove it"
        raise DatasetError(reason, path=path) from None


def _decode(path: Path, size: tuple[int, int] | None) -> NDArray[np.uint8]:
    pixels = _read(path, size, decode=True)
    assert pixels is not None
    return pixels


def _to_tensor(pixels: NDArray[np.uint8] | torch.Tensor) -> torch.Tensor:
    """``(H, W, 3)`` array or ``(3, H, W)`` uint8 tensor -> ``(3, H, W)`` float32 in [0, 1]."""
    if isinstance(pixels, np.ndarray):
        pixels = torch.from_numpy(pixels).permute(2, 0, 1)
    return pixels.to(torch.float32).div_(255.0)


def _check_size(size: tuple[int, int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    if len(size) != 2 or min(size) < 1:
        raise ConfigurationError(f"size must be (height, width) of positive ints or None, got {size}")
    return int(size[0]), int(size[1])


def load_image(path: str | os.PathLike[str], *, size: tuple[int, int] | None = IMAGE_SIZE) -> torch.Tensor:
    """Decode a PNG as the reference does: RGB (alpha dropped), in [0, 1], resized.

    Parameters
    ----------
    path
        A PNG file.
    size
        ``(height, width)`` to resize to with Pillow's bilinear filter (which averages
        over the whole footprint when shrinking); ``None`` keeps the file's size.

    Returns
    -------
    torch.Tensor
        Shape ``(3, height, width)``, float32 in [0, 1].

    Raises
    ------
    DatasetError
        If the file is missing, not a PNG, or corrupt; the message names it.
    MissingDependencyError
        If Pillow is not installed.

    Examples
    --------
    >>> import tempfile, os
    >>> from musicgenre.synthetic import synthesize_clip
    >>> path = os.path.join(tempfile.mkdtemp(), "jazz00000.png")
    >>> render_spectrogram_image(synthesize_clip("jazz", duration=1.0), 22050).save(path)
    >>> image = load_image(path)
    >>> tuple(image.shape), image.dtype, bool(0 <= image.min() <= image.max() <= 1)
    ((3, 128, 128), torch.float32, True)
    """
    return _to_tensor(_decode(Path(path), _check_size(size)))


class GTZANImageDataset(LabelledFileDataset):
    """Kaggle's GTZAN spectrogram PNGs as ``(image, target)`` pairs.

    Each item is the PNG with its alpha channel dropped, scaled to [0, 1] and resized to
    *size* (bilinear, with Pillow), then passed through *transform*: a ``(3, 128, 128)``
    float tensor for the reference. The label is the file name's alphabetic prefix
    (``jazz00012.png`` is jazz).

    Parameters
    ----------
    root
        Folder holding the PNGs: Kaggle's ``Data/images_original/<genre>/<genre>00000.png``
        (with or without ``Data/``), genre folders, or one flat folder; searched
        recursively. Audio files beside them are ignored.
    transform
        Applied to each ``(3, height, width)`` image.
    genres
        Class names in label order; PNGs of other GTZAN genres are left out. ``None``
        keeps the GTZAN genres that have at least one image, in GTZAN order (the
        reference lists the genre folders it finds).
    size
        ``(height, width)`` of the items, or ``None`` for each file's own size.
    validate
        Check every file's PNG signature and chunk checksums now, and skip (and report)
        the corrupt or non-PNG ones. Without it a bad file raises
        :class:`~musicgenre.errors.DatasetError` when its item is read.
    preload
        Decode every image now and keep them in memory as uint8 (49 MB for GTZAN's 1000
        at 128 x 128), as the reference does; epochs then skip the PNG decoding. Files
        that fail to decode are skipped and reported.

    Attributes
    ----------
    files : list of pathlib.Path
        The PNGs used, sorted by genre then number.
    targets : list of int
        Label of each image, an index into :attr:`classes`.
    classes : tuple of str
        Genre names.
    skipped : list of SkippedFile
        Files found but not used, with the reason; a warning summarises them.

    Raises
    ------
    DatasetError
        If *root* does not exist or holds no usable PNG; the message lists the layouts
        looked for.
    MissingDependencyError
        If Pillow is not installed.

    Examples
    --------
    >>> import tempfile
    >>> root = make_synthetic_gtzan_images(tempfile.mkdtemp(), clips_per_genre=2, duration=1.0, genres=("jazz", "rock"))
    >>> ds = GTZANImageDataset(root, genres=None)
    >>> len(ds), ds.classes, ds.files[0].name, tuple(ds[0][0].shape)
    (4, ('jazz', 'rock'), 'jazz00000.png', (3, 128, 128))
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        genres: Sequence[str] | None = GENRES,
        size: tuple[int, int] | None = IMAGE_SIZE,
        validate: bool = True,
        preload: bool = False,
    ) -> None:
        self.root = Path(root)
        self.transform = transform
        self.size = _check_size(size)
        classes: tuple[str, ...] = GENRES if genres is None else tuple(genres)
        if len(set(classes)) != len(classes) or not classes:
            raise DatasetError(f"genres must be distinct and non-empty, got {list(classes)}")
        if not self.root.is_dir():
            raise DatasetError(
                "dataset root does not exist or is not a folder; pass the folder that holds the "
                "spectrogram PNGs (Kaggle's Data/images_original, or its parent)",
                path=self.root,
            )
        _require_pillow()
        files, targets, skipped = scan_clips(self.root, classes, IMAGE_EXTENSIONS, other_formats=_OTHER_IMAGES)
        skipped = [_reword(s) for s in skipped]
        found = len(files) + len(skipped)
        self._pixels: torch.Tensor | None = None
        if preload:
            files, targets, bad = self._preload(files, targets)
            skipped.extend(bad)
        elif validate:
            files, targets, bad = _keep_readable(files, targets, _check_png, DatasetError)
            skipped.extend(bad)
        if not files:
            layouts = "\n  ".join(_LAYOUT_HELP)
            raise DatasetError(
                f"no usable PNG of {list(classes)} found ({len(skipped)} skipped). "
                f"Looked for these layouts:\n  {layouts}",
                path=self.root,
            )
        if genres is None:
            present = sorted(set(targets))
            remap = {old: new for new, old in enumerate(present)}
            classes = tuple(classes[i] for i in present)
            targets = [remap[t] for t in targets]
        self.classes: tuple[str, ...] = classes
        self.files: list[Path] = files
        self.targets: list[int] = targets
        self.skipped: list[SkippedFile] = skipped
        _warn_skipped(type(self).__name__, self.root, skipped, found)

    def _preload(self, files: list[Path], targets: list[int]) -> tuple[list[Path], list[int], list[SkippedFile]]:
        good_files: list[Path] = []
        good_targets: list[int] = []
        pixels: list[torch.Tensor] = []
        bad: list[SkippedFile] = []
        for path, target in zip(files, targets, strict=True):
            try:
                array = _decode(path, self.size)
            except DatasetError as exc:
                bad.append(SkippedFile(path, exc.reason))
                continue
            if pixels and array.shape != (*pixels[0].shape[1:], 3):
                bad.append(SkippedFile(path, f"size {array.shape[1]} x {array.shape[0]} differs from the others"))
                continue
            good_files.append(path)
            good_targets.append(target)
            pixels.append(torch.from_numpy(array).permute(2, 0, 1))
        if pixels:
            self._pixels = torch.stack(pixels)
        return good_files, good_targets, bad

    @property
    def track_ids(self) -> list[str]:
        """``"<genre>.<number>"`` of each image (``jazz00012.png`` -> ``"jazz.00012"``), as for the audio."""
        ids = []
        for path in self.files:
            parsed = parse_clip_name(path.name)
            assert parsed is not None  # every file passed parse_clip_name in scan_clips
            ids.append(f"{parsed[0]}.{parsed[1]:05d}")
        return ids

    _summary_keys = ("images", "per_genre")

    def load(self, index: int) -> torch.Tensor:
        """Image *index* as a ``(3, height, width)`` float tensor in [0, 1], before *transform*."""
        if self._pixels is not None:
            return _to_tensor(self._pixels[index])
        return _to_tensor(_decode(self.files[index], self.size))

    def summary(self) -> dict[str, Any]:
        """Counts per genre, the image size, and the skipped files with their reasons (for reports)."""
        return {**super().summary(), "size": list(self.size) if self.size is not None else None}


def _check_png(path: Path) -> None:
    """Check *path*'s PNG signature and chunk checksums without decoding the pixels."""
    _read(path, None, decode=False)


def _reword(skipped: SkippedFile) -> SkippedFile:
    # scan_clips words its reasons for audio; say what applies to pictures instead.
    suffix = skipped.path.suffix.lower()
    if suffix in _OTHER_IMAGES:
        return SkippedFile(skipped.path, f"unsupported image format {suffix!r}; the reference reads PNG only")
    if skipped.reason.startswith("name is not"):
        return SkippedFile(skipped.path, "name is not <genre><number>.png (e.g. blues00000.png)")
    return skipped


@functools.lru_cache(maxsize=8)
def _slaney_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> torch.Tensor:
    """The mel filter bank librosa uses by default (Slaney scale and area norm), ``(n_fft // 2 + 1, n_mels)``."""
    import torchaudio.functional as taF

    fbanks: torch.Tensor = taF.melscale_fbanks(
        n_freqs=n_fft // 2 + 1,
        f_min=0.0,
        f_max=sample_rate / 2,
        n_mels=n_mels,
        sample_rate=sample_rate,
        norm="slaney",
        mel_scale="slaney",
    )
    return fbanks


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
    (bilinear). Only Pillow and numpy are used, so this is fast (a 30-s clip in tens of
    milliseconds) and needs no matplotlib.

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
        If Pillow is not installed.

    Examples
    --------
    >>> from musicgenre.synthetic import synthesize_clip
    >>> image = render_spectrogram_image(synthesize_clip("rock", duration=2.0), 22050)
    >>> image.mode, image.size
    ('RGBA', (432, 288))
    """
    _require_pillow()
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
    # with |X|^2 taken from the real and imaginary parts: no square root to undo.
    stft = torch.stft(
        wave, n_fft, hop_length, window=torch.hann_window(n_fft), center=True, pad_mode="reflect", return_complex=True
    )
    power = _slaney_filterbank(sample_rate, n_fft, n_mels).T @ torch.view_as_real(stft).square().sum(-1)
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
    canvas[top + 1 : bottom, left + 1 : right, :3] = _MAGMA_TABLE[index]
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
    :class:`GTZANImageDataset` reads like Kaggle's ``images_original``.

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
    _require_pillow()
    audio = GTZANDataset(audio_root, genres=genres, sample_rate=sample_rate)
    base = Path(out_root)
    for index, path in enumerate(audio.files):
        parsed = parse_clip_name(path.name)
        assert parsed is not None  # the dataset only keeps GTZAN-named files
        target = base / IMAGE_LAYOUTS[layout].format(genre=parsed[0], number=parsed[1])
        target.parent.mkdir(parents=True, exist_ok=True)
        render_spectrogram_image(audio.load(index), sample_rate).save(target, format="PNG")
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

    The clips are those :func:`~musicgenre.synthetic.make_synthetic_gtzan` writes with
    the same arguments, so an image and an audio set made with one seed match clip for clip.

    Parameters
    ----------
    root
        Folder to write into (created if needed).
    clips_per_genre, duration, noise, seed
        See :func:`~musicgenre.synthetic.make_synthetic_gtzan`.
    genres
        Genres to write.
    layout
        One of :data:`IMAGE_LAYOUTS`.

    Returns
    -------
    pathlib.Path
        *root*, ready for :class:`GTZANImageDataset`.
    """
    from musicgenre.synthetic import make_synthetic_gtzan  # synthetic imports this package

    if layout not in IMAGE_LAYOUTS:
        raise ConfigurationError(f"unknown layout {layout!r}; choose from {list(IMAGE_LAYOUTS)}")
    with tempfile.TemporaryDirectory(prefix="musicgenre-audio-") as tmp:
        make_synthetic_gtzan(
            tmp, clips_per_genre=clips_per_genre, duration=duration, genres=tuple(genres), noise=noise, seed=seed
        )
        return render_gtzan_images(tmp, root, layout=layout, genres=genres)
