"""``musicgenre.parallel.map_files``: the per-file loop under prediction, tagging and extraction."""

from __future__ import annotations

import multiprocessing
import sys
import warnings
from pathlib import Path

import pytest
import torch

from musicgenre.errors import AudioDecodeError, ConfigurationError, DecoderWarning
from musicgenre.parallel import FileOutcome, default_workers, map_files, reissue, run_job


class _Job:
    """Length of the file's name and the torch threads it ran with; raises or warns on request."""

    def __call__(self, path: Path) -> tuple[int, int]:
        if path.stem.startswith("bad"):
            raise AudioDecodeError("not audio", path=path)
        if path.stem.startswith("warn"):
            damaged = DecoderWarning("damaged frames", path=path, messages=("Note: Illegal Audio-MPEG-Header",))
            warnings.warn(damaged, stacklevel=1)
            warnings.warn(damaged, stacklevel=1)  # the same twice: kept once
        return len(path.name), torch.get_num_threads()


def _run(paths: list[Path], workers: int, files_per_batch: int = 4) -> list[FileOutcome[tuple[int, int]]]:
    return [
        o for batch in map_files(_Job(), paths, num_workers=workers, files_per_batch=files_per_batch) for o in batch
    ]


PATHS = [Path(f"{stem}.wav") for stem in ("a", "bad1", "warn-c", "dddd", "bad2", "e", "ff", "g", "warn-h")]


@pytest.mark.parametrize("workers", [0, 2])
def test_every_file_has_its_outcome_in_order(workers: int) -> None:
    outcomes = _run(PATHS, workers, files_per_batch=2)
    assert [o.path for o in outcomes] == PATHS
    assert [o.index for o in outcomes] == list(range(len(PATHS)))
    for o in outcomes:
        if o.path.stem.startswith("bad"):
            assert o.value is None
            assert o.error is not None
            assert str(o.path) in o.error
        else:
            assert o.error is None
            assert o.value is not None
            assert o.value[0] == len(o.path.name)
            assert o.value[1] == (1 if workers else torch.get_num_threads())  # workers: one thread each
    warned = {o.path.stem: o.warnings for o in outcomes if o.warnings}
    assert sorted(warned) == ["warn-c", "warn-h"]
    for path, caught in warned.items():
        assert len(caught) == 1
        assert isinstance(caught[0], DecoderWarning)  # the class survives the trip from a worker
        assert caught[0].messages == ("Note: Illegal Audio-MPEG-Header",)
        assert str(caught[0]) == f"{path}.wav: damaged frames"


def test_spawned_workers_run_a_picklable_job() -> None:
    # macOS and Windows start workers with spawn: the job travels pickled.
    if "spawn" not in multiprocessing.get_all_start_methods():
        pytest.skip("no spawn here")
    original = multiprocessing.get_start_method(allow_none=True)
    try:
        multiprocessing.set_start_method("spawn", force=True)
        outcomes = _run(PATHS[:4], 2)
    finally:
        multiprocessing.set_start_method(original, force=True)
    assert [o.error is None for o in outcomes] == [True, False, True, True]


def test_warnings_come_back_once_and_are_issued_here() -> None:
    (outcome,) = _run([Path("warn-x.wav")], 2)
    with pytest.warns(DecoderWarning, match="warn-x.wav: damaged frames"):
        texts = reissue(outcome)
    assert texts == ("warn-x.wav: damaged frames",)


def test_threads_are_restored_and_bad_settings_refused() -> None:
    before = torch.get_num_threads()
    _run(PATHS[:3], 2)
    assert torch.get_num_threads() == before
    with pytest.raises(ConfigurationError, match="num_workers"):
        _run(PATHS, -1)
    with pytest.raises(ConfigurationError, match="files_per_batch"):
        _run(PATHS, 0, files_per_batch=0)


def test_run_job_can_let_the_error_through() -> None:
    with pytest.raises(AudioDecodeError, match=r"bad\.wav"):
        run_job(_Job(), 0, Path("bad.wav"), catch=False)
    assert run_job(_Job(), 3, Path("bad.wav")).error is not None


def test_default_workers_needs_enough_files_per_core(monkeypatch: pytest.MonkeyPatch) -> None:
    import musicgenre.parallel as parallel

    monkeypatch.setattr(parallel, "usable_cores", lambda: 2)
    assert default_workers(7) == 0
    assert default_workers(8) == 2


@pytest.mark.parametrize("progress", [None, True])
def test_no_standard_error_means_no_bar_and_every_outcome(progress: bool | None) -> None:
    saved = sys.stderr
    sys.stderr = None  # as Python sets it when started without descriptor 2
    try:
        outcomes = [o for batch in map_files(_Job(), PATHS, num_workers=0, progress=progress) for o in batch]
    finally:
        sys.stderr = saved
    assert [o.path for o in outcomes] == PATHS
