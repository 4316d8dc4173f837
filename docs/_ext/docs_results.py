"""Numbers for the user-facing pages, read from the committed results files at build time.

``docs/results_prediction.md`` (``benchmarks/real_path.py``), ``docs/results_cv_mini.md``
(``examples/reproduce_gtzan.py --cv 5`` on gtzan-mini) and ``docs/results_benchmark.md``
(``benchmarks/run.py``) are the only source of the figures that "Choose a recipe" and
"Performance" show: this module turns their Markdown tables into rows, so that a new
benchmark run updates every page and nothing is copied by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "INPUTS",
    "MODELS",
    "Throughput",
    "cv_rows",
    "markdown_tables",
    "one_off_features",
    "recipe_table",
    "throughput",
    "throughput_dates",
    "throughput_table",
]

DOCS = Path(__file__).resolve().parent.parent
PREDICTION = DOCS / "results_prediction.md"
CV_MINI = DOCS / "results_cv_mini.md"

#: The models of the benchmark, in the pages' order, with a name for readers.
MODELS = {"reference": "reference", "improved": "improved", "pretrained": "pretrained (musicnn)"}
#: The input kinds of the benchmark, in the pages' order.
INPUTS = ("22.05 kHz mono WAV", "44.1 kHz stereo FLAC", "44.1 kHz stereo MP3")
_CLI = "CLI, start-up included"
_DEFAULT_WORKERS = "2 (default)"
_DATE = re.compile(r"\((\d{4}-\d{2}-\d{2})\)\.\*\*\s*$")


@dataclass(frozen=True)
class Throughput:
    """One benchmark row: ``musicgenre predict`` on 200 x 30-s files, start-up included."""

    model: str
    input: str
    wall_s: float
    real_time: float  # audio seconds per wall second
    date: str

    @property
    def tracks_per_s(self) -> float:
        """30-s tracks per second."""
        return 200 / self.wall_s


def markdown_tables(path: Path) -> list[tuple[str, str, list[dict[str, str]]]]:
    """Every pipe table of *path*: ``(date of its section, caption, rows as dicts)``, in file order."""
    tables: list[tuple[str, str, list[dict[str, str]]]] = []
    date, caption, header, rows = "", "", None, []
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if header is None:
                header = cells
            elif not all(set(c) <= set("-:") for c in cells):
                rows.append(dict(zip(header, cells, strict=False)))  # start-up rows are short
            continue
        if header is not None:
            tables.append((date, caption, rows))
            header, rows = None, []
        if found := _DATE.search(line):
            date = found.group(1)
        if line.startswith("**"):
            caption = line
    return tables


def _number(text: str) -> float:
    return float(text.replace(",", "").rstrip("x").strip())


def throughput(path: Path = PREDICTION) -> dict[tuple[str, str], Throughput]:
    """The newest CLI row (default workers, the default torch build) per model and input kind."""
    found: dict[tuple[str, str], Throughput] = {}
    for date, caption, rows in markdown_tables(path):
        if not caption.startswith("**Prediction of 200"):
            continue
        for row in rows:
            model = row.get("model", "").split(" (")[0]
            key = (model, row.get("input", ""))
            wanted = model in MODELS and row.get("how") == _CLI and row.get("workers") == _DEFAULT_WORKERS
            if wanted and key not in found:  # the file lists the newest measurements first
                found[key] = Throughput(model, key[1], _number(row["wall (s)"]), _number(row["x real time"]), date)
    return found


def one_off_features(path: Path = PREDICTION) -> float | None:
    """Wall seconds of the pretrained recipe's one-off feature work on 1000 x 30-s WAVs (default workers)."""
    for _, caption, rows in markdown_tables(path):
        if "one-off work" in caption:
            for row in rows:
                if row.get("workers") == _DEFAULT_WORKERS:
                    return _number(row["total (s)"])
    return None


def cv_rows(path: Path = CV_MINI) -> dict[str, dict[str, str]]:
    """The cross-validation table of gtzan-mini, by recipe."""
    _, _, rows = markdown_tables(path)[0]
    return {row["recipe"]: row for row in rows}


def _list_table(header: tuple[str, ...], rows: list[tuple[str, ...]], widths: str, *, stub: bool = True) -> str:
    lines = [".. list-table::", "   :header-rows: 1", f"   :widths: {widths}", "   :class: mg-wide"]
    if stub:
        lines.append("   :stub-columns: 1")
    lines.append("")
    for row in (header, *rows):
        lines.append(f"   * - {row[0]}")
        lines.extend(f"     - {cell}" for cell in row[1:])
    return "\n".join(lines) + "\n"


def _speed(row: Throughput | None) -> str:
    if row is None:
        return "not measured"
    return f"{row.real_time:,.0f}x ({row.tracks_per_s:.0f} tracks/s)"


def throughput_table(path: Path = PREDICTION) -> str:
    """The Performance page's table: models down, input kinds across."""
    rows = throughput(path)
    body = [(name, *(_speed(rows.get((model, kind))) for kind in INPUTS)) for model, name in MODELS.items()]
    return _list_table(("model", *INPUTS), body, "19 27 27 27")


def throughput_dates(path: Path = PREDICTION) -> str:
    """The dates of the rows :func:`throughput_table` shows, for its caption."""
    dates = sorted({r.date for r in throughput(path).values() if r.date})
    return " and ".join(dates)


_SUITS = {
    "reference": "reproducing the reference; GTZAN-sized sets (1,000 clips) as a baseline",
    "improved": "thousands of tracks per label, or sounds far from commercial music",
    "pretrained": "your own labels, a few dozen to a few hundred tracks per label (the default for your folders)",
    "probe": "a logistic regression on the pretrained features: a quick check of how well your labels separate",
}


def recipe_table(cv_path: Path = CV_MINI, prediction_path: Path = PREDICTION) -> str:
    """The "Choose a recipe" table: accuracy, training time, prediction speed and data size."""
    cv = cv_rows(cv_path)
    speed = throughput(prediction_path)
    one_off = one_off_features(prediction_path)
    rows = []
    for recipe in ("reference", "improved", "pretrained"):
        row = cv.get(recipe, {})
        accuracy = f"{row['track accuracy (%)']} %" if row else "to be measured"
        train = f"{row['train time (s)']} s" if row else "to be measured"
        if recipe == "pretrained" and one_off is not None:
            train += f", after features once ({one_off:.0f} s per 1,000 tracks)"
        wav = speed.get((recipe, INPUTS[0]))
        rows.append((f"``{recipe}``", accuracy, train, _speed(wav), _SUITS[recipe]))
    probe = cv.get("pretrained-probe", {})
    rows.append(
        (
            "``pretrained-probe``",
            f"{probe['track accuracy (%)']} %" if probe else "to be measured",
            f"{probe['train time (s)']} s, after the same features" if probe else "to be measured",
            _speed(speed.get(("pretrained", INPUTS[0]))),
            _SUITS["probe"],
        )
    )
    header = (
        "recipe",
        "accuracy, gtzan-mini 5-fold CV",
        "training time per fold (80 clips)",
        "prediction speed, 30-s WAVs (x real time)",
        "suits",
    )
    return _list_table(header, rows, "14 16 20 22 28")
