"""The example gallery's settings: small arguments per example, and the figures they save.

sphinx-gallery runs every script of ``examples/`` during the docs build, as
``python examples/<name>.py`` with the arguments :func:`reset_argv` gives: the script's
own synthetic default, made small enough for a build, and an output folder outside the
checkout. The scripts save their plots as PNG files (and close the figures), so
:func:`saved_figures` shows the PNG files a script wrote into that folder.

sphinx-gallery names these objects by their qualified names in ``conf.py`` (callables in
its configuration cannot be cached by Sphinx).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["RUNS", "SMALL_ARGS", "ExampleOrder", "reset_argv", "run_folder", "saved_figures"]

#: Where the examples write their output folders: one per example, outside the checkout
#: (``MUSICGENRE_GALLERY_RUNS`` overrides it).
RUNS = Path(os.environ.get("MUSICGENRE_GALLERY_RUNS", Path(tempfile.gettempdir()) / "musicgenre-gallery"))

#: Each example's synthetic default, made small enough for a docs build (a few seconds
#: to half a minute each on two cores). The order is the gallery's.
SMALL_ARGS: dict[str, list[str]] = {
    "reproduce_gtzan": ["--clips-per-genre", "7", "--duration", "1.5", "--max-epochs", "8", "--seed", "42"],
    "train_your_folder": ["--clips-per-label", "10", "--duration", "3", "--max-epochs", "40"],
    "classify_your_music": ["--clips-per-genre", "5", "--duration", "2", "--max-epochs", "3"],
    "genre_timeline": ["--section-seconds", "20", "--clips-per-genre", "8", "--max-epochs", "15"],
    "extend_genrecnn": ["--clips-per-genre", "5", "--duration", "2", "--max-epochs", "3"],
    "reproduce_images": ["--clips-per-genre", "5", "--duration", "2", "--epochs", "4", "--size", "64",
                         "--report-every", "4"],
}  # fmt: skip


def run_folder(src_file: str | os.PathLike[str]) -> Path:
    """The output folder of the example *src_file* under :data:`RUNS`."""
    return RUNS / Path(src_file).stem


def reset_argv(gallery_conf: dict[str, Any], script_vars: dict[str, Any]) -> list[str]:
    """``sys.argv[1:]`` of an example: its small settings and a fresh output folder."""
    out = run_folder(script_vars["src_file"])
    shutil.rmtree(out, ignore_errors=True)  # a re-run starts from nothing, as a user's would
    return ["--out", str(out), *SMALL_ARGS.get(out.name, [])]


class ExampleOrder:
    """Sort key of the gallery: the order of :data:`SMALL_ARGS`, then by name."""

    def __init__(self, src_dir: str) -> None:
        self.src_dir = src_dir

    def __call__(self, filename: str) -> tuple[int, str]:
        """Position of *filename* in the gallery."""
        names = list(SMALL_ARGS)
        stem = Path(filename).stem
        return (names.index(stem) if stem in names else len(names), stem)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"  # a stable repr: Sphinx compares configurations by it


def saved_figures(block: Any, block_vars: dict[str, Any], gallery_conf: dict[str, Any]) -> str:
    """An image scraper: the PNG files the example saved in its output folder, as figures."""
    from sphinx_gallery.scrapers import figure_rst

    out = run_folder(block_vars["src_file"])
    shown = block_vars.setdefault("musicgenre_shown", set())
    images = []
    for png in sorted(out.glob("*.png"), key=lambda p: p.stat().st_mtime):
        if png.name in shown:
            continue
        shown.add(png.name)
        target = Path(next(block_vars["image_path_iterator"]))
        shutil.copyfile(png, target)
        images.append(target)
    return figure_rst(images, gallery_conf["src_dir"])
