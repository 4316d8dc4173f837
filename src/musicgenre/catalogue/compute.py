"""What either engine runs on a batch of files: the model, loaded once, and the rows it gives.

:class:`ModelSpec` says which model (a genre checkpoint, carried as its bytes so that a
worker on another machine needs no shared disk; or a packaged musicnn model) and is
cheap to send to a worker; :class:`RowMaker` loads it once and turns a batch of local
files into catalogue rows with the library's own batch calls
(:meth:`GenreClassifier.predict_many <musicgenre.predict.GenreClassifier.predict_many>`,
:meth:`Tagger.tag_many <musicgenre.predict.Tagger.tag_many>`,
:meth:`Tagger.embed <musicgenre.predict.Tagger.embed>`). A file that cannot be used is an
error row carrying the message the CLI prints after ``error:``. Bytes read from an object
store are written to a temporary file named like the original and decoded from there
(:meth:`RowMaker.rows_from_bytes`); the error messages then name the original.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

from musicgenre.catalogue.table import Job, fingerprint
from musicgenre.errors import ConfigurationError

if TYPE_CHECKING:
    from musicgenre.predict import GenreClassifier, Tagger

__all__ = ["EMBEDDING_SIZES", "ModelSpec", "RowMaker", "classifier_class"]

#: Size of each :meth:`~musicgenre.predict.Tagger.embed` layer.
EMBEDDING_SIZES: dict[str, int] = {"penultimate": 200, "pooled": 1506}


def classifier_class() -> type[GenreClassifier]:
    """:class:`~musicgenre.predict.GenreClassifier`: the one place this package imports it from."""
    from musicgenre.predict import GenreClassifier

    return GenreClassifier


def _tagger(name: str, device: str) -> Tagger:
    from musicgenre.predict import Tagger

    return Tagger.from_pretrained(name, device=device)


@dataclass(frozen=True)
class ModelSpec:
    """Which model a catalogue runs, in a form that travels to workers.

    Attributes
    ----------
    job
        ``"predict"``, ``"tags"`` or ``"embed"``.
    checkpoint
        The genre checkpoint's bytes (``"predict"``), else ``None``.
    checkpoint_name
        The checkpoint's file name.
    pretrained
        The packaged musicnn model (``"tags"``, ``"embed"``), e.g. ``"MSD_musicnn"``.
    layer
        The embedding layer (``"embed"``): ``"pooled"`` or ``"penultimate"``.
    device
        Where workers run the model: ``"cpu"``, ``"cuda"``, ``"auto"``.
    """

    job: Job
    checkpoint: bytes | None = None
    checkpoint_name: str = ""
    pretrained: str = "MSD_musicnn"
    layer: Literal["pooled", "penultimate"] = "pooled"
    device: str = "cpu"

    @classmethod
    def create(
        cls,
        job: Job,
        *,
        checkpoint: str | Path | None = None,
        model: str = "MSD_musicnn",
        layer: Literal["pooled", "penultimate"] = "pooled",
        device: str = "cpu",
    ) -> ModelSpec:
        """Check the arguments and read the checkpoint.

        Raises
        ------
        ConfigurationError
            If *job* or *layer* is unknown, or ``"predict"`` has no *checkpoint*.
        CheckpointError
            If the checkpoint cannot be read.
        """
        from musicgenre.errors import CheckpointError

        if job not in ("predict", "tags", "embed"):
            raise ConfigurationError(f"job must be 'predict', 'tags' or 'embed', got {job!r}")
        if layer not in EMBEDDING_SIZES:
            raise ConfigurationError(f"layer must be 'pooled' or 'penultimate', got {layer!r}")
        if job != "predict":
            return cls(job, pretrained=model, layer=layer, device=device)
        if checkpoint is None:
            raise ConfigurationError("a genre catalogue needs a checkpoint")
        try:
            data = Path(checkpoint).read_bytes()
        except OSError as exc:
            raise CheckpointError(f"{checkpoint}: cannot read it ({exc.strerror})", path=Path(checkpoint)) from None
        return cls(job, checkpoint=data, checkpoint_name=Path(checkpoint).name, device=device)

    @property
    def name(self) -> str:
        """The ``model`` column: ``ckpt-name#<12 hex of its BLAKE2b>``, ``MSD_musicnn`` or ``MSD_musicnn:pooled``."""
        if self.job == "predict":
            digest = hashlib.blake2b(self.checkpoint or b"", digest_size=6).hexdigest()
            return f"{self.checkpoint_name}#{digest}"
        return self.pretrained if self.job == "tags" else f"{self.pretrained}:{self.layer}"


class RowMaker:
    """The model of a :class:`ModelSpec`, loaded once, turning batches of files into catalogue rows.

    Parameters
    ----------
    spec
        The model.
    num_workers
        Processes for ``predict_many``/``tag_many`` (0: this process; ``None``: one per core).
    """

    def __init__(self, spec: ModelSpec, num_workers: int | None = 0) -> None:
        self.spec = spec
        self.num_workers = num_workers
        self._tmp = tempfile.TemporaryDirectory(prefix="musicgenre-catalogue-")
        if spec.job == "predict":
            ckpt = Path(self._tmp.name) / (spec.checkpoint_name or "model.ckpt")
            ckpt.write_bytes(spec.checkpoint or b"")
            self.classifier: GenreClassifier | None = classifier_class().from_checkpoint(ckpt, device=spec.device)
            self.tagger: Tagger | None = None
            self.columns: tuple[str, ...] | int = tuple(self.classifier.classes)
        else:
            self.classifier = None
            self.tagger = _tagger(spec.pretrained, spec.device)
            self.columns = tuple(self.tagger.labels) if spec.job == "tags" else EMBEDDING_SIZES[spec.layer]

    def close(self) -> None:
        """Remove the temporary folder."""
        self._tmp.cleanup()

    # -- rows ----------------------------------------------------------------------------
    def rows(self, paths: Sequence[str], names: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """One row per local file in *paths*, named *names* (default: the paths) in the table.

        Never raises for a bad file: a file the batch call cannot handle is retried alone,
        and what still fails becomes an error row.
        """
        names = list(paths) if names is None else list(names)
        try:
            rows = self._batch(list(paths), names)
        except Exception:  # e.g. a file that breaks the batch: each file alone, so only it fails
            rows = [self._one(p, n) for p, n in zip(paths, names, strict=True)]
        for row, path in zip(rows, paths, strict=True):
            row["fingerprint"] = _fingerprint(path)
        return rows

    def rows_from_bytes(self, names: Sequence[str], contents: Sequence[bytes]) -> list[dict[str, Any]]:
        """One row per file given by its *contents*: written to a temporary file named like the original."""
        folder = Path(tempfile.mkdtemp(dir=self._tmp.name))
        paths = []
        for i, (name, data) in enumerate(zip(names, contents, strict=True)):
            path = folder / str(i) / PurePosixPath(name).name
            path.parent.mkdir()
            path.write_bytes(data)
            paths.append(path)
        try:
            return self.rows([str(p) for p in paths], names)
        finally:
            for path in paths:
                path.unlink(missing_ok=True)

    def _batch(self, paths: list[str], names: list[str]) -> list[dict[str, Any]]:
        if self.spec.job == "embed":
            return [self._one(p, n) for p, n in zip(paths, names, strict=True)]
        if self.classifier is not None:
            results: Sequence[Any] = self.classifier.predict_many(
                paths, top_k=1, num_workers=self.num_workers, progress=False
            )
        else:
            assert self.tagger is not None
            results = self.tagger.tag_many(paths, top_k=1, num_workers=self.num_workers, progress=False)
        return [self._row(r, p, n) for r, p, n in zip(results, paths, names, strict=True)]

    def _row(self, result: Any, path: str, name: str) -> dict[str, Any]:
        error = getattr(result, "error", None)
        if error is not None:
            return _error_row(name, str(error).replace(path, name))
        row: dict[str, Any] = {"path": name, "duration_s": float(result.duration), "error": None}
        if self.spec.job == "predict":
            row["genre"] = result.genre
            row.update(result.probabilities)
        else:
            row.update(result.tags)
        return row

    def _one(self, path: str, name: str) -> dict[str, Any]:
        try:
            if self.spec.job != "embed":
                return self._row(self._single(path), path, name)
            assert self.tagger is not None
            wave = self.tagger.load(path)
            vector = self.tagger.embed(wave, sample_rate=self.tagger.sample_rate, layer=self.spec.layer)
            return {
                "path": name,
                "duration_s": len(wave) / self.tagger.sample_rate,
                "error": None,
                "embedding": vector.to(dtype=_float32()).tolist(),
            }
        except Exception as exc:  # a bad file is an error row, never a crash
            message = str(exc).replace(path, name)
            return _error_row(name, message if name in message else f"{name}: {message}")

    def _single(self, path: str) -> Any:
        if self.classifier is not None:
            return self.classifier.predict_many([path], top_k=1, num_workers=0, progress=False)[0]
        assert self.tagger is not None
        return self.tagger.tag_many([path], top_k=1, num_workers=0, progress=False)[0]


def _float32() -> Any:
    import torch

    return torch.float32


def _error_row(name: str, message: str) -> dict[str, Any]:
    return {"path": name, "duration_s": None, "error": message}


def _fingerprint(path: str) -> str | None:
    try:
        return fingerprint(Path(path).read_bytes())
    except OSError:
        return None
