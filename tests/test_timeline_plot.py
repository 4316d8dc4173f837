"""The timeline figure of a long recording: written, its time axis spanning the recording."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musicgenre.errors import ConfigurationError
from musicgenre.predict.plots import plot_timeline, timeline_figure

matplotlib = pytest.importorskip("matplotlib")


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    probabilities: dict[str, float]


@dataclass(frozen=True)
class Result:
    path: Path | None
    duration: float
    timeline: tuple[Segment, ...] | None


def _genres(rng: np.random.Generator, windows: int, labels: list[str], *, hop: float = 1.5) -> Result:
    rows = rng.dirichlet(np.ones(len(labels)), size=windows)
    segments = tuple(
        Segment(i * hop, min(i * hop + 3.0, windows * hop + 1.5), dict(zip(labels, map(float, row), strict=True)))
        for i, row in enumerate(rows)
    )
    return Result(Path("mix.flac"), windows * hop + 1.5, segments)


def test_genre_timeline_is_written_and_spans_the_recording(tmp_path: Path, rng: np.random.Generator) -> None:
    result = _genres(rng, 200, ["blues", "jazz", "rock", "metal", "pop", "disco", "reggae", "country"])
    fig = timeline_figure(result, top=4)
    main = fig.axes[-1]
    assert main.get_xlim() == pytest.approx((0.0, result.duration))
    box = main.get_legend()
    assert box is not None
    legend = [t.get_text() for t in box.get_texts()]
    assert legend[-1] == "other"
    assert len(legend) == 5
    out = plot_timeline(result, tmp_path / "plots" / "timeline.png", top=4)
    assert out.stat().st_size > 5_000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_tag_timeline_is_a_heat_map_spanning_the_recording(tmp_path: Path, rng: np.random.Generator) -> None:
    labels = [f"tag{i}" for i in range(50)]
    rows = rng.uniform(0, 1, size=(30, 50))
    timeline = tuple(
        Segment(3.0 * i, 3.0 * i + 3.0, dict(zip(labels, map(float, r), strict=True))) for i, r in enumerate(rows)
    )
    result = Result(None, 90.0, timeline)
    fig = timeline_figure(result, top=10, title="tags")
    ax, _colour_bar = fig.axes
    assert ax.get_xlim() == pytest.approx((0.0, 90.0))
    assert len(ax.get_yticks()) == 10
    assert plot_timeline(result, tmp_path / "tags.png").stat().st_size > 0


def test_long_recordings_read_hours_minutes_seconds(rng: np.random.Generator) -> None:
    fig = timeline_figure(_genres(rng, 3000, ["a", "b"], hop=3.0))
    formatter = fig.axes[-1].xaxis.get_major_formatter()
    assert formatter(3725.0) == "1:02:05"
    assert formatter(65.0) == "1:05"


def test_a_result_without_timeline_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="timeline=True"):
        timeline_figure(Result(Path("x.wav"), 30.0, None))


def test_the_timeline_example_draws_a_generated_recording(tmp_path: Path) -> None:
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "examples" / "genre_timeline.py"
    spec = importlib.util.spec_from_file_location("genre_timeline_example", path)
    assert spec is not None
    assert spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    out = tmp_path / "run"
    args = ["--out", str(out), "--section-seconds", "8", "--clips-per-genre", "4", "--max-epochs", "2", "--no-tags"]
    written = example.main(args)
    assert written == {"genres": str(out / "timeline.png")}
    assert (out / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sf.info(str(out / "mix.flac")).duration == pytest.approx(32.0)
