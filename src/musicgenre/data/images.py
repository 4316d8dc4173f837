"""Kaggle's GTZAN spectrogram images as a torch ``Dataset``, and the PNG reading it needs.

Kaggle's copy of GTZAN ships, beside the audio, one picture per clip:
``Data/images_original/<genre>/<genre>00000.png``, a 432 x 288 RGBA render of the clip's
mel spectrogram (magma colours, white margins, no axes). The file names have no dot
between genre and number; the label is the alphabetic prefix, as
:func:`~musicgenre.data.gtzan.parse_clip_name` reads it.

:class:`GTZANImageDataset` finds those PNGs in Kaggle's layout (with or without ``Data/``),
in genre folders or in one flat folder, with the same skip report as
:class:`~musicgenre.data.GTZANDataset`, and delivers each as the reference does: alpha
dropped, scaled to [0, 1], resized to 128 x 128. Drawing more such pictures is
:mod:`musicgenre.data.render`'s job; :func:`musicgenre.synthetic.make_synthetic_gtzan_images`
writes a synthetic set.

Decoding needs Pillow, the ``images`` extra
(``pip install 'musicgenre[images]'``); without it they raise
:class:`~musicgenre.errors.MissingDependencyError`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from musicgenre.data.base import LabelledFileDataset, SkippedFile, keep_readable, warn_skipped
from musicgenre.data.gtzan import parse_clip_name, scan_clips
from musicgenre.errors import ConfigurationError, DatasetError, MissingDependencyError
from musicgenre.genres import GENRES

__all__ = ["IMAGE_EXTENSIONS", "IMAGE_SIZE", "GTZANImageDataset", "load_image"]

#: Files the image dataset reads (the reference reads PNGs only).
IMAGE_EXTENSIONS: tuple[str, ...] = (".png",)
#: ``(height, width)`` every image is resized to, the reference's 128 x 128.
IMAGE_SIZE: tuple[int, int] = (128, 128)
_INSTALL = "pip install 'musicgenre[images]'"
# Other picture formats are reported (not silently ignored): the reference reads PNG only.
_OTHER_IMAGES = (".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp")
_LAYOUT_HELP = (
    "Kaggle:   ROOT/Data/images_original/<genre>/<genre>00000.png (or without Data/)",
    "folders:  ROOT/<genre>/<genre>00000.png",
    "flat:     ROOT/<genre>00000.png",
)


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
    >>> from musicgenre.data.render import render_spectrogram_image
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
    classes
        Genre names in label order; PNGs of other GTZAN genres are left out. ``None``
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
    >>> from musicgenre.synthetic import make_synthetic_gtzan_images
    >>> root = make_synthetic_gtzan_images(tempfile.mkdtemp(), clips_per_genre=2, duration=1.0, genres=("jazz", "rock"))
    >>> ds = GTZANImageDataset(root, classes=None)
    >>> len(ds), ds.classes, ds.files[0].name, tuple(ds[0][0].shape)
    (4, ('jazz', 'rock'), 'jazz00000.png', (3, 128, 128))
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        classes: Sequence[str] | None = GENRES,
        size: tuple[int, int] | None = IMAGE_SIZE,
        validate: bool = True,
        preload: bool = False,
    ) -> None:
        self.root = Path(root)
        self.transform = transform
        self.size = _check_size(size)
        wanted: tuple[str, ...] = GENRES if classes is None else tuple(classes)
        if len(set(wanted)) != len(wanted) or not wanted:
            raise DatasetError(f"classes must be distinct and non-empty, got {list(wanted)}")
        if not self.root.is_dir():
            raise DatasetError(
                "dataset root does not exist or is not a folder; pass the folder that holds the "
                "spectrogram PNGs (Kaggle's Data/images_original, or its parent)",
                path=self.root,
            )
        _require_pillow()
        files, targets, skipped = scan_clips(self.root, wanted, IMAGE_EXTENSIONS, other_formats=_OTHER_IMAGES)
        skipped = [_reword(s) for s in skipped]
        found = len(files) + len(skipped)
        self._pixels: torch.Tensor | None = None
        if preload:
            files, targets, bad = self._preload(files, targets)
            skipped.extend(bad)
        elif validate:
            files, targets, bad = keep_readable(files, targets, _check_png, DatasetError)
            skipped.extend(bad)
        if not files:
            layouts = "\n  ".join(_LAYOUT_HELP)
            raise DatasetError(
                f"no usable PNG of {list(wanted)} found ({len(skipped)} skipped). "
                f"Looked for these layouts:\n  {layouts}",
                path=self.root,
            )
        if classes is None:
            present = sorted(set(targets))
            remap = {old: new for new, old in enumerate(present)}
            wanted = tuple(wanted[i] for i in present)
            targets = [remap[t] for t in targets]
        self.classes: tuple[str, ...] = wanted
        self.files: list[Path] = files
        self.targets: list[int] = targets
        self.skipped: list[SkippedFile] = skipped
        warn_skipped(type(self).__name__, self.root, skipped, found)

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
