"""The ``musicgenre`` command (also ``python -m musicgenre``): a thin shell over the library.

Subcommands: ``train``, ``evaluate``, ``predict``, ``tags``, ``info`` and ``export``;
``musicgenre COMMAND --help`` shows each one's options and an example. Exit status: 0 on
success, 1 when something failed (for ``predict`` and ``tags``: when any file could not
be classified or tagged; the others still are), 2 on a usage error. Errors are one
``error: ...`` line on stderr, never a traceback. With standard error closed the commands
run as usual, their diagnostics going nowhere.

One module per command (``musicgenre.cli.predict``...) adds its parser and runs it,
importing the library's heavy modules only then: building the parser imports no PyTorch.
The options several commands share are defined once (``_options``), and so are the
output formats of ``predict`` and ``tags`` (``_output``).
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import sys
import warnings
from collections.abc import Sequence
from typing import NoReturn

from musicgenre._version import __version__
from musicgenre.cli import embed, evaluate, export, info, predict, tags, train
from musicgenre.cli._options import PROG, Command
from musicgenre.cli._output import show_warning, stderr_or_nothing
from musicgenre.errors import MusicGenreError

__all__ = ["build_parser", "main", "run"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``musicgenre`` command."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Classify music audio into genres: train, evaluate, predict, inspect and export models.",
        epilog=f"example:\n  {PROG} predict --checkpoint runs/gtzan/model.ckpt song.mp3 albums/\n\n"
        f"Run '{PROG} COMMAND --help' for a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress (epochs, files) to stderr")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for command in (train, evaluate, predict, tags, embed, info, export):
        command.add_parser(sub)
    return parser


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (status 2)
        return exc.code if isinstance(exc.code, int) else 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    command: Command = args.command
    try:
        with warnings.catch_warnings():
            warnings.showwarning = show_warning  # one line each, no source excerpt
            return command(args)
    except MusicGenreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. piped into `head`: stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``musicgenre`` command with *argv* (default: ``sys.argv[1:]``) and return its exit status.

    Where ``sys.stderr`` is ``None`` (no standard error) the command runs all the same,
    its warnings and error lines discarded.

    Examples
    --------
    >>> main(["--version"])  # doctest: +ELLIPSIS
    musicgenre ...
    0
    """
    with stderr_or_nothing():
        return _main(argv)


def _open_descriptor_2() -> None:
    """Point a closed descriptor 2 at the null device, as daemons do.

    Otherwise the next file this process opens gets descriptor 2, and whatever C code
    writes to standard error (a decoder's or PyTorch's messages) lands in that file.
    """
    try:
        os.fstat(2)
    except OSError:
        fd = os.open(os.devnull, os.O_WRONLY)
        if fd != 2:
            os.dup2(fd, 2)
            os.close(fd)


def run(argv: Sequence[str] | None = None) -> NoReturn:
    """The ``musicgenre`` program: :func:`main`, then end the process at once.

    Once the command is done and its output flushed, the exit handlers run
    (:mod:`atexit`: logging, multiprocessing) and the process ends without tearing down
    the interpreter module by module, which takes long with PyTorch loaded. Call
    :func:`main` to run a command inside a Python program. A closed standard error
    (descriptor 2) is first opened on the null device.
    """
    _open_descriptor_2()
    code = main(argv)
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:  # None: started without it (e.g. 2>&-)
                stream.flush()
    except (BrokenPipeError, ValueError):  # a reader that went away, or a closed stream
        code = code or 1
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)  # CPython; elsewhere the full exit
    if run_exit_handlers is None:
        raise SystemExit(code)
    run_exit_handlers()
    os._exit(code)
