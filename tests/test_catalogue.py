"""musicgenre.catalogue: one row per input file, the same table from either engine, resumable.

The Ray tests (marked ``ray``) need the ``ray`` extra; every Ray here listens on 127.0.0.1 only
(``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, set before any Ray starts).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"

pa = pytest.importorskip("pyarrow")

from musicgenre.catalogue import (  # noqa: E402
    FIXED_COLUMNS,
    classifier_class,
    fingerprint,
    list_inputs,
    read_catalogue,
    run_catalogue,
)
from musicgenre.errors import ConfigurationError  # noqa: E402
from musicgenre.genres import GENRES  # noqa: E402
from musicgenre.models import GenreCNN, save_checkpoint  # noqa: E402
from musicgenre.synthetic import make_synthetic_gtzan  # noqa: E402


@pytest.fixture(scope="module")
def audio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 good 3-s clips plus a corrupt, an empty and a too-short (5 ms) file."""
    root = make_synthetic_gtzan(tmp_path_factory.mktemp("audio"), clips_per_genre=2, duration=3.0, layout="flat")
    (root / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk" * 8)
    (root / "empty.wav").write_bytes(b"")
    sf.write(str(root / "short.wav"), np.zeros(110, dtype="float32"), 22050)
    return root


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.ckpt", GenreCNN(seed=0), classes=GENRES)


def _inputs(audio: Path) -> list[str]:
    return [str(audio), str(audio / "missing.wav")]


def _table(folder: Path) -> dict[str, dict[str, Any]]:
    rows = read_catalogue(folder).to_pylist()
    counts = Counter(row["path"] for row in rows)
    assert max(counts.values()) == 1, [p for p, n in counts.items() if n > 1]
    return {row["path"]: row for row in rows}


def _expected_paths(audio: Path) -> set[str]:
    return {e.path for e in list_inputs(_inputs(audio))}


def _check_against_in_process(table: dict[str, dict[str, Any]], checkpoint: Path, names: dict[str, str]) -> None:
    """Every row equals ``GenreClassifier.predict_many`` in this process (*names*: table name -> local path)."""
    classifier = classifier_class().from_checkpoint(checkpoint)
    local = list(names.values())
    results: dict[str, Any] = dict(
        zip(local, classifier.predict_many(local, top_k=1, num_workers=0, progress=False), strict=True)
    )
    for name, path in names.items():
        row, result = table[name], results[path]  # Prediction or FailedPrediction
        error = getattr(result, "error", None)
        if error is not None:
            assert row["error"] == error.replace(path, name)
            assert row["genre"] is None
            assert row["duration_s"] is None
            continue
        assert row["error"] is None
        assert row["genre"] == result.genre
        assert row["duration_s"] == pytest.approx(result.duration)
        for genre, p in result.probabilities.items():
            assert abs(row[genre] - p) <= 1e-6


# -- the table, in process ---------------------------------------------------------------
def test_local_engine_writes_one_row_per_input_with_the_cli_errors(
    tmp_path: Path, audio: Path, checkpoint: Path
) -> None:
    out = tmp_path / "genres.parquet"
    summary = run_catalogue("predict", _inputs(audio), out, checkpoint=checkpoint, files_per_part=6, num_workers=0)
    table = _table(out)
    assert set(table) == _expected_paths(audio)
    assert (summary.files, summary.computed, summary.done_before, summary.missing) == (24, 24, 0, 0)
    assert summary.failed == 3  # corrupt, empty, missing; the 5-ms file is padded and predicted
    assert len(list(out.glob("part-*.parquet"))) == 4
    schema = read_catalogue(out).schema
    assert tuple(schema.names) == (*FIXED_COLUMNS, "genre", *GENRES)
    _check_against_in_process(table, checkpoint, {p: p for p in table})
    corrupt = table[str(audio / "corrupt.wav")]
    assert corrupt["error"].startswith(str(audio / "corrupt.wav"))
    good = table[str(audio / "blues.00000.wav")]
    stat = (audio / "blues.00000.wav").stat()
    assert (good["size"], good["mtime_ns"]) == (stat.st_size, stat.st_mtime_ns)
    assert good["model"].startswith("tiny.ckpt#")
    assert len(good["fingerprint"]) == 32
    assert table[str(audio / "missing.wav")]["size"] is None


def test_an_output_of_another_model_is_refused(tmp_path: Path, audio: Path, checkpoint: Path) -> None:
    out = tmp_path / "genres.parquet"
    run_catalogue("predict", [str(audio / "blues.00000.wav")], out, checkpoint=checkpoint, num_workers=0)
    other = save_checkpoint(tmp_path / "other.ckpt", GenreCNN(seed=1), classes=GENRES)
    with pytest.raises(ConfigurationError, match="another job or model"):
        run_catalogue("predict", [str(audio / "blues.00000.wav")], out, checkpoint=other, num_workers=0)


def test_without_the_extra_the_error_names_it(
    tmp_path: Path, audio: Path, checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from musicgenre.errors import MissingDependencyError

    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    with pytest.raises(MissingDependencyError, match=r"musicgenre\[ray\]"):
        run_catalogue("predict", [str(audio)], tmp_path / "out.parquet", checkpoint=checkpoint, engine="ray")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(MissingDependencyError, match=r"pyarrow.*musicgenre\[ray\]"):
        run_catalogue("predict", [str(audio)], tmp_path / "out.parquet", checkpoint=checkpoint)
    assert not (tmp_path / "out.parquet").exists()


# -- resume ---------------------------------------------------------------------------------
class _Interrupted(BaseException):
    """Stands for Ctrl-C (not an Exception, so nothing on the way catches it)."""


def _counting(monkeypatch: pytest.MonkeyPatch, calls: list[str], stop_after: int | None = None) -> None:
    """Count the files the model is run on; raise :class:`_Interrupted` instead of the call after *stop_after*."""
    cls = classifier_class()
    original = cls.predict_many
    batches = [0]

    def predict_many(self: Any, paths: Sequence[str], **kwargs: Any) -> Any:
        if stop_after is not None and batches[0] >= stop_after:
            raise _Interrupted
        batches[0] += 1
        results = original(self, paths, **kwargs)
        calls.extend(str(p) for p in paths)
        return results

    monkeypatch.setattr(cls, "predict_many", predict_many)


def test_an_interrupted_run_resumes_without_computing_a_file_twice(
    tmp_path: Path, audio: Path, checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "genres.parquet"
    first: list[str] = []
    with monkeypatch.context() as patch:
        _counting(patch, first, stop_after=2)
        with pytest.raises(_Interrupted):
            run_catalogue("predict", _inputs(audio), out, checkpoint=checkpoint, files_per_part=5, num_workers=0)
    assert len(first) == 10
    assert len(list(out.glob("part-*.parquet"))) == 2
    second: list[str] = []
    with monkeypatch.context() as patch:
        _counting(patch, second)
        summary = run_catalogue("predict", _inputs(audio), out, checkpoint=checkpoint, files_per_part=5, num_workers=0)
    assert (summary.done_before, summary.computed, summary.missing) == (10, 14, 0)
    assert not set(first) & set(second)
    assert sorted(first + second) == sorted(_expected_paths(audio))
    assert set(_table(out)) == _expected_paths(audio)
    # Nothing left: a third run computes nothing.
    third: list[str] = []
    with monkeypatch.context() as patch:
        _counting(patch, third)
        summary = run_catalogue("predict", _inputs(audio), out, checkpoint=checkpoint, num_workers=0)
    assert third == []
    assert summary.done_before == 24


def test_a_changed_file_is_computed_again_and_keeps_one_row(tmp_path: Path, audio: Path, checkpoint: Path) -> None:
    folder = tmp_path / "music"
    folder.mkdir()
    for name in ("blues.00000.wav", "rock.00000.wav", "jazz.00000.wav"):
        (folder / name).write_bytes((audio / name).read_bytes())
    out = tmp_path / "genres.parquet"
    run_catalogue("predict", [str(folder)], out, checkpoint=checkpoint, files_per_part=2, num_workers=0)
    changed = folder / "rock.00000.wav"
    changed.write_bytes((audio / "metal.00000.wav").read_bytes())
    os.utime(changed, ns=(time.time_ns(), time.time_ns() + 10**9))
    summary = run_catalogue("predict", [str(folder)], out, checkpoint=checkpoint, num_workers=0)
    assert (summary.done_before, summary.computed) == (2, 1)
    table = _table(out)
    assert len(table) == 3
    assert table[str(changed)]["mtime_ns"] == changed.stat().st_mtime_ns
    assert table[str(changed)]["fingerprint"] == fingerprint((audio / "metal.00000.wav").read_bytes())


def test_embeddings_are_fixed_size_float32_lists(tmp_path: Path, audio: Path) -> None:
    out = tmp_path / "embed.parquet"
    files = [str(audio / "blues.00000.wav"), str(audio / "empty.wav")]
    run_catalogue("embed", files, out, layer="penultimate")
    schema = read_catalogue(out).schema
    assert schema.field("embedding").type == pa.list_(pa.float32(), 200)
    table = _table(out)
    assert len(table[files[0]]["embedding"]) == 200
    assert table[files[0]]["error"] is None
    assert table[files[1]]["embedding"] is None
    assert table[files[1]]["error"].startswith(files[1])


# -- Ray ---------------------------------------------------------------------------------------
def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int(next(ln for ln in (entry / "status").read_text().splitlines() if ln.startswith("PPid:"))[5:])
            except (OSError, StopIteration, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = {pid}, [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _listening_addresses(pids: set[int]) -> list[str]:
    """Local addresses (hex, as /proc/net/tcp[6] writes them) of the TCP sockets that *pids* listen on."""
    inodes: set[str] = set()
    for pid in pids:
        fds = Path(f"/proc/{pid}/fd")
        try:
            links = [str(fd.readlink()) for fd in fds.iterdir()]
        except OSError:
            continue
        inodes.update(link[8:-1] for link in links if link.startswith("socket:["))
    addresses = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                addresses.append(fields[1].rsplit(":", 1)[0])
    return addresses


_LOOPBACK = {"0100007F", "00000000000000000000000001000000", "0000000000000000FFFF00000100007F"}


# -- the command line --------------------------------------------------------------------
def test_the_commands_write_the_same_table_with_output(
    tmp_path: Path, audio: Path, checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from musicgenre.cli import main

    out = tmp_path / "genres.parquet"
    args = ["predict", "-c", str(checkpoint), *_inputs(audio), "--output", str(out), "--workers", "0"]
    assert main(args) == 1  # three inputs failed: their rows say why
    assert "24 files: 24 computed (3 failed), 0 done before" in capsys.readouterr().err
    table = _table(out)
    assert set(table) == _expected_paths(audio)
    _check_against_in_process(table, checkpoint, {p: p for p in table})
    assert main(args) == 0  # the same command again: everything was done before
    assert "0 computed (0 failed), 24 done before" in capsys.readouterr().err

    few = [str(audio / "blues.00000.wav"), str(audio / "corrupt.wav")]
    assert main(["tags", *few, "--output", str(tmp_path / "tags.parquet"), "--workers", "0"]) == 1
    tags = _table(tmp_path / "tags.parquet")
    assert tags[few[0]]["error"] is None
    assert 0.0 <= tags[few[0]]["rock"] <= 1.0
    assert tags[few[1]]["error"].startswith(few[1])
    assert main(["embed", few[0], "--layer", "penultimate", "--output", str(tmp_path / "emb.parquet")]) == 0
    assert len(_table(tmp_path / "emb.parquet")[few[0]]["embedding"]) == 200


def test_the_ray_engine_needs_an_output(audio: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from musicgenre.cli import main

    assert main(["tags", str(audio / "blues.00000.wav"), "--engine", "ray"]) == 2
    assert "--engine ray needs --output" in capsys.readouterr().err
    assert main(["embed", str(audio / "blues.00000.wav")]) == 2  # the table is what embed makes
    assert "--output" in capsys.readouterr().err


@pytest.fixture(scope="class")
def local_ray() -> Iterator[None]:
    ray = pytest.importorskip("ray")
    from musicgenre.catalogue.ray_engine import start_local_ray

    if ray.is_initialized():
        ray.shutdown()
    start_local_ray(num_cpus=2)
    yield
    ray.shutdown()


@pytest.mark.ray
@pytest.mark.usefixtures("local_ray")
class TestLocalRay:
    def test_every_input_once_equal_to_in_process_and_loopback_only(
        self, tmp_path: Path, audio: Path, checkpoint: Path
    ) -> None:
        out = tmp_path / "genres.parquet"
        summary = run_catalogue(
            "predict", _inputs(audio), out, checkpoint=checkpoint, engine="ray", files_per_part=6, files_per_batch=3
        )
        table = _table(out)
        assert set(table) == _expected_paths(audio)
        assert summary.missing == 0
        assert summary.failed == 3
        _check_against_in_process(table, checkpoint, {p: p for p in table})
        listening = _listening_addresses(_descendants(os.getpid()))
        assert listening, "no Ray listener found: the check would prove nothing"
        assert set(listening) <= _LOOPBACK, listening

    def test_the_command_line_runs_on_ray(
        self, tmp_path: Path, audio: Path, checkpoint: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        from musicgenre.cli import main

        out = tmp_path / "genres.parquet"
        files = [str(audio / "blues.00000.wav"), str(audio / "jazz.00001.wav"), str(audio / "empty.wav")]
        assert main(["predict", "-c", str(checkpoint), *files, "--engine", "ray", "--output", str(out)]) == 1
        assert "3 files: 3 computed (1 failed)" in capsys.readouterr().err
        table = _table(out)
        _check_against_in_process(table, checkpoint, {p: p for p in table})

    def test_object_store_uris_are_read_as_bytes_and_named_as_given(
        self, tmp_path: Path, audio: Path, checkpoint: Path
    ) -> None:
        folder = tmp_path / "bucket"
        folder.mkdir()
        for name in ("blues.00000.wav", "corrupt.wav", "short.wav"):
            (folder / name).write_bytes((audio / name).read_bytes())
        out = tmp_path / "genres.parquet"
        uris = [f"file://{folder}", f"file://{audio / 'jazz.00001.wav'}"]  # a folder and a file
        run_catalogue("predict", uris, out, checkpoint=checkpoint, engine="ray", files_per_batch=2)
        table = _table(out)
        names = {f"file://{p}": str(p) for p in [*sorted(folder.iterdir()), audio / "jazz.00001.wav"]}
        assert set(table) == set(names)
        assert table[f"file://{folder}/corrupt.wav"]["error"].startswith(f"file://{folder}/corrupt.wav: ")
        _check_against_in_process(table, checkpoint, names)

    def test_tags_equal_tag_many(self, tmp_path: Path, audio: Path) -> None:
        from musicgenre.predict import Tagger

        files = [str(audio / n) for n in ("blues.00000.wav", "metal.00001.wav", "corrupt.wav", "empty.wav")]
        out = tmp_path / "tags.parquet"
        run_catalogue("tags", files, out, engine="ray", concurrency=1)
        table = _table(out)
        expected = Tagger.from_pretrained("MSD_musicnn").tag_many(files, top_k=1, num_workers=0, progress=False)
        result: Any
        for path, result in zip(files, expected, strict=True):
            row = table[path]
            if getattr(result, "error", None) is not None:
                assert row["error"] == result.error
            else:
                assert row["error"] is None
                assert max(abs(row[tag] - p) for tag, p in result.tags.items()) <= 1e-6


def _actor_pids() -> list[int]:
    """The processes of this run's Ray Data actors (Ray titles them ``ray::MapWorker(...)``)."""
    pids = []
    for pid in _descendants(os.getpid()):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if title.startswith(b"ray::MapWorker"):
            pids.append(pid)
    return pids


@pytest.mark.ray
def test_an_actor_killed_mid_run_on_a_two_node_cluster_loses_no_file(
    tmp_path: Path, audio: Path, checkpoint: Path
) -> None:
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    out = tmp_path / "genres.parquet"
    killed: list[tuple[int, int]] = []  # (pid, rows written when it was killed)

    def kill_an_actor() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            pids = _actor_pids()
            if list(out.glob("part-*.parquet")) and pids:
                os.kill(pids[-1], signal.SIGKILL)
                killed.append((pids[-1], len(read_catalogue(out))))
                return
            time.sleep(0.05)

    try:
        ray.init(address=cluster.address, logging_level="warning")
        killer = threading.Thread(target=kill_an_actor)
        killer.start()
        first = run_catalogue(
            "predict", _inputs(audio), out, checkpoint=checkpoint, engine="ray", files_per_part=2, files_per_batch=1
        )
        killer.join()
        again = run_catalogue("predict", _inputs(audio), out, checkpoint=checkpoint, engine="ray")
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert killed, "no actor was killed: nothing was tested"
    assert killed[0][1] < 24, "the actor was killed after the run: nothing was tested"
    # Ray restarted the actor and retried its batch: the run itself finished every file.
    assert first.missing == 0
    assert (again.done_before, again.computed) == (24, 0)
    table = _table(out)
    assert set(table) == _expected_paths(audio)
    _check_against_in_process(table, checkpoint, {p: p for p in table})


def test_object_store_inputs_reach_the_catalogue_as_typed() -> None:
    from musicgenre.cli import build_parser

    args = build_parser().parse_args(["tags", "s3://bucket/previews/", "--output", "tags.parquet"])
    assert args.inputs == ["s3://bucket/previews/"]  # a Path would have folded it to s3:/bucket/previews
