"""The options several commands share, each defined once, and the checks of their values.

Every ``add_*`` function adds one option to a command's parser, with the same flag, type,
default and help wherever it appears; the help's command-specific part is a parameter.
Building a parser imports no PyTorch: choices read from a registry (:class:`Names`) are
loaded on first use.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, overload

__all__ = [
    "PROG",
    "Command",
    "Names",
    "add_batch_size",
    "add_checkpoint",
    "add_command",
    "add_device",
    "add_files_per_batch",
    "add_format",
    "add_inputs",
    "add_root",
    "add_top_k",
    "add_workers",
    "non_negative",
    "overlap",
    "positive",
]

#: The program's name, in usage lines, examples and error lines.
PROG = "musicgenre"

#: A command: runs with the parsed arguments and returns the exit status.
Command = Callable[[argparse.Namespace], int]


# -- value checks ----------------------------------------------------------------------
def positive(text: str) -> int:
    """An integer of at least 1 (an argparse ``type``)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative(text: str) -> int:
    """An integer of 0 or more (an argparse ``type``)."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def overlap(text: str) -> float:
    """A fraction in [0, 1) (an argparse ``type``)."""
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {value}")
    return value


class Names(Sequence[str]):
    """Choices read from a registry on first use: building the parser imports no PyTorch.

    Parameters
    ----------
    load
        Returns the names; called once, when argparse first looks at the choices.
    """

    def __init__(self, load: Callable[[], list[str]]) -> None:
        self._load = load
        self._names: list[str] | None = None

    def _list(self) -> list[str]:
        if self._names is None:
            self._names = self._load()
        return self._names

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._list()[index]

    def __len__(self) -> int:
        return len(self._list())

    def __contains__(self, value: object) -> bool:
        return value in self._list()


# -- a command and its options ---------------------------------------------------------
def add_command(
    sub: Any, name: str, summary: str, example: str, command: Command, **kwargs: Any
) -> argparse.ArgumentParser:
    """Add the subcommand *name* to *sub* (``add_subparsers()``'s result), run by *command*.

    Its help shows *summary* and, after the options, ``example:`` and the *example* line.
    """
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=summary,
        description=summary,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        **kwargs,
    )
    parser.set_defaults(command=command)
    return parser


def add_inputs(parser: argparse.ArgumentParser) -> None:
    """The audio files and folders to run on (positional, one or more), kept as typed.

    Strings, not paths: with ``--output`` an input may be an object-store URI
    (``s3://bucket/prefix``), which :class:`~pathlib.Path` would fold to ``s3:/bucket``.
    """
    parser.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR", help="audio files and/or folders")


def add_checkpoint(parser: argparse.ArgumentParser, purpose: str) -> None:
    """``--checkpoint`` / ``-c`` (required): the model.ckpt, described as ``model.ckpt {purpose}``."""
    parser.add_argument("--checkpoint", "-c", type=Path, required=True, metavar="CKPT", help=f"model.ckpt {purpose}")


def add_root(parser: argparse.ArgumentParser) -> None:
    """``--root`` (required): the labelled folder (GTZAN, or one subfolder per label)."""
    parser.add_argument(
        "--root", type=Path, required=True, help="GTZAN folder (any layout), or your own: one subfolder per label"
    )


def add_device(parser: argparse.ArgumentParser) -> None:
    """``--device``: where the model runs (default ``cpu``)."""
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")


def add_workers(parser: argparse.ArgumentParser, what: str) -> None:
    """``--workers N``: worker processes, described by *what*; by default as ``default_workers`` chooses."""
    parser.add_argument(
        "--workers",
        type=non_negative,
        metavar="N",
        help=f"{what} (default: one per usable core, or 0 for fewer than 4 files per core)",
    )


def add_format(parser: argparse.ArgumentParser, *choices: str, more: str = "") -> None:
    """``--format``: the output format, one of *choices*, the first the default; *more* ends the help."""
    parser.add_argument(
        "--format", choices=choices, default=choices[0], help=f"output format (default: {choices[0]}){more}"
    )


def add_top_k(parser: argparse.ArgumentParser, default: int, what: str) -> None:
    """``--top-k K``: how many of *what* (genres, tags) to show per file."""
    parser.add_argument(
        "--top-k", type=positive, default=default, metavar="K", help=f"{what} to show per file (default: {default})"
    )


def add_batch_size(parser: argparse.ArgumentParser, default: int | None, what: str) -> None:
    """``--batch-size N``: model inputs per forward pass; *what* is the help."""
    parser.add_argument("--batch-size", type=positive, default=default, metavar="N", help=what)


def add_files_per_batch(parser: argparse.ArgumentParser, what: str) -> None:
    """``--files-per-batch N``: files a worker runs in turn and sends back together (default 4)."""
    parser.add_argument("--files-per-batch", type=positive, default=4, metavar="N", help=f"{what} (default: 4)")


def add_timeline(parser: argparse.ArgumentParser, what: str, *, formats: str) -> None:
    """``--timeline`` (every window's output, in the *formats* output) and ``--plot PATH`` (a picture of it)."""
    parser.add_argument(
        "--timeline",
        action="store_true",
        help=f"include every {what}'s output (in the {formats} output; with --plot, any format)",
    )
    parser.add_argument(
        "--plot",
        type=Path,
        metavar="PATH",
        help="with --timeline: draw each file's timeline to PATH (a PNG; for several files PATH's name gets "
        "'-<file name>' added); needs the plots extra",
    )


def _pretrained() -> list[str]:
    from musicgenre.models.pretrained import list_pretrained

    return list_pretrained()


def add_pretrained_model(parser: argparse.ArgumentParser, help: str) -> None:
    """``--model NAME``: a packaged pretrained model (the names are read only when checked or shown)."""
    parser.add_argument("--model", default="MSD_musicnn", choices=Names(_pretrained), metavar="MODEL", help=help)
