"""examples/reproduce_gtzan.py end to end, on a tiny synthetic set with small settings."""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from musicgenre.genres import GENRES
from musicgenre.models.checkpoint import load_checkpoint
from musicgenre.synthetic import make_synthetic_gtzan

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "reproduce_gtzan.py"
OUTPUTS = ("metrics.json", "report.txt", "loss.png", "confusion.png", "tsne.png", "model.ckpt")
SMALL = ["--max-epochs", "3"]

Main = Callable[[list[str]], dict[str, Any]]


@pytest.fixture
def example_main() -> Iterator[Main]:
    spec = importlib.util.spec_from_file_location("reproduce_gtzan_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    root_handlers = list(logging.getLogger().handlers)
    root_level = logging.getLogger().level
    yield module.main
    # main() calls logging.basicConfig; leave the root logger as the other tests expect it.
    for handler in logging.getLogger().handlers[:]:
        if handler not in root_handlers:
            logging.getLogger().removeHandler(handler)
    logging.getLogger().setLevel(root_level)


def _assert_outputs(out: Path) -> dict[str, Any]:
    for name in OUTPUTS:
        path = out / name
        assert path.is_file(), f"{name} was not written"
        assert path.stat().st_size > 0
    metrics: dict[str, Any] = json.loads((out / "metrics.json").read_text())
    return metrics


def test_reproduce_on_generated_synthetic_set(tmp_path: Path, example_main: Main) -> None:
    out = tmp_path / "run"

    result = example_main(["--clips-per-genre", "6", "--duration", "2", "--out", str(out), *SMALL])

    metrics = _assert_outputs(out)
    assert metrics["evaluated_on"] == "test"
    assert metrics["split_sizes"] == [38, 10, 12]  # 60 clips: 12 held out, then 10 of the other 48
    assert 1 <= len(metrics["history"]["epochs"]) <= 3  # --max-epochs is respected
    assert sum(sum(row) for row in metrics["confusion_matrix"]) == 12  # the test set, once each
    assert metrics["classes"] == list(GENRES)
    assert 0.0 <= result["accuracy"] <= 1.0
    assert result["accuracy"] == pytest.approx(metrics["accuracy"])
    assert (out / "synthetic-gtzan").is_dir()  # no --root: the synthetic set was generated
    checkpoint = load_checkpoint(out / "model.ckpt")
    assert checkpoint.model.num_classes == 10
    assert checkpoint.classes == list(GENRES)


def test_reproduce_80_20_evaluates_on_validation(tmp_path: Path, example_main: Main) -> None:
    root = make_synthetic_gtzan(tmp_path / "gtzan", clips_per_genre=6, duration=2.0, layout="kaggle")
    out = tmp_path / "run"

    example_main(["--root", str(root), "--scheme", "80-20", "--out", str(out), *SMALL])

    metrics = _assert_outputs(out)
    assert metrics["evaluated_on"] == "validation"
    assert metrics["scheme"] == "80-20"
    assert metrics["split_sizes"] == [48, 12]
    assert sum(sum(row) for row in metrics["confusion_matrix"]) == 12
    assert not (out / "synthetic-gtzan").exists()  # used --root, generated nothing


@pytest.mark.parametrize(
    ("recipe", "genres", "clips"),
    [("reference", None, 6), ("pretrained", ("classical", "metal"), 5)],
)
def test_example_writes_the_checkpoint_run_experiment_writes(
    tmp_path: Path, example_main: Main, recipe: str, genres: tuple[str, ...] | None, clips: int
) -> None:
    """The example runs run_experiment's stages: the same checkpoint (parts, weights), and it evaluates."""
    import torch

    from musicgenre.experiment import evaluate_checkpoint, run_experiment

    kwargs: dict[str, Any] = {} if genres is None else {"genres": genres}
    root = make_synthetic_gtzan(tmp_path / "gtzan", clips_per_genre=clips, duration=3.5, **kwargs)
    example_out, run_out = tmp_path / "example", tmp_path / "run"
    example_main(["--root", str(root), "--recipe", recipe, "--out", str(example_out), "--seed", "3", *SMALL])
    result = run_experiment(root, run_out, recipe=recipe, seed=3, max_epochs=3, plots=False)

    ours, theirs = load_checkpoint(example_out / "model.ckpt"), load_checkpoint(run_out / "model.ckpt")
    assert ours.parts is not None, "the example's checkpoint stores no split: `musicgenre evaluate` refuses it"
    assert ours.parts == theirs.parts
    assert set(ours.parts) == {"train", "validation", "test"}
    assert (ours.extra, ours.metrics, ours.windowing) == (theirs.extra, theirs.metrics, theirs.windowing)
    assert (ours.classes, ours.features) == (theirs.classes, theirs.features)
    mine, reference = ours.model.state_dict(), theirs.model.state_dict()
    assert mine.keys() == reference.keys()
    assert all(torch.equal(mine[k], reference[k]) for k in mine)
    written = json.loads((example_out / "metrics.json").read_text())
    assert written["accuracy"] == pytest.approx(result.metrics.accuracy)

    evaluation = evaluate_checkpoint(example_out / "model.ckpt", root)  # `musicgenre evaluate` on the example's run
    assert evaluation.split == "stored"
    assert evaluation.complete
    assert evaluation.metrics.accuracy == pytest.approx(result.metrics.accuracy)
