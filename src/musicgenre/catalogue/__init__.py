"""Catalogue scale: genres, musicnn tags or embeddings for every file of a collection, as a Parquet table.

:func:`run_catalogue` computes one row per input file, in this process (``engine="local"``)
or on a Ray cluster (``engine="ray"``, the ``musicgenre[ray]`` extra), and writes the rows
as they finish into a directory of Parquet parts (``OUT.parquet/part-*.parquet``). The table
is the same whichever engine made it:

``path``
    The file as given (folders expanded) or its URI (``s3://bucket/key.mp3``).
``size``, ``mtime_ns``
    The file's size in bytes and modification time in nanoseconds when it was read (what
    the resume rule compares).
``fingerprint``
    BLAKE2b-128 of the file's bytes, in hex (the same audio under two names has one).
``model``
    Which model made the row: ``<checkpoint file>#<12 hex of its BLAKE2b>``, ``MSD_musicnn``,
    or ``MSD_musicnn:pooled`` for embeddings.
``duration_s``
    The decoded track's length in seconds.
``error``
    Null for a file that was used; else the message the CLI prints after ``error:``
    (``x.wav: not a valid WAV file...``). A file that cannot be used is such a row, never a
    missing row or a failed run.
result columns
    ``predict``: ``genre`` and one float64 probability column per class, named after it, in
    the model's order; ``tags``: one float64 column per tag; ``embed``: ``embedding``, a
    fixed-size list of float32 (1,506 for ``pooled``, 200 for ``penultimate``). Null in
    error rows.

A re-run of the same command skips the files already done (see
:mod:`musicgenre.catalogue.table` for the rule: same path, size and modification time)
and finishes the rest, so an interrupted run loses nothing and computes nothing twice.

>>> sorted(EMBEDDING_SIZES.items())
[('penultimate', 200), ('pooled', 1506)]
"""

from musicgenre.catalogue.compute import EMBEDDING_SIZES, ModelSpec, RowMaker, classifier_class
from musicgenre.catalogue.inputs import list_inputs
from musicgenre.catalogue.run import CatalogueSummary, Engine, run_catalogue
from musicgenre.catalogue.table import (
    FIXED_COLUMNS,
    FileEntry,
    Job,
    PartWriter,
    fingerprint,
    make_schema,
    read_catalogue,
)

__all__ = [
    "EMBEDDING_SIZES",
    "FIXED_COLUMNS",
    "CatalogueSummary",
    "Engine",
    "FileEntry",
    "Job",
    "ModelSpec",
    "PartWriter",
    "RowMaker",
    "classifier_class",
    "fingerprint",
    "list_inputs",
    "make_schema",
    "read_catalogue",
    "run_catalogue",
]
