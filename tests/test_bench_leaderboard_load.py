"""The leaderboard load benchmark's own arithmetic: which rows it counts and which requests it keeps."""
import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "leaderboard_load", Path(__file__).resolve().parents[1] / "bench" / "leaderboard_load.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def rows_of(html: str) -> int:
    parser = bench._TableRows()
    parser.feed(html)
    return parser.rows


def test_only_the_rows_of_the_table_body_are_counted():
    page = ("<table><thead><tr><th>#</th></tr></thead><tbody><tr><td>1</td></tr>"
            "<tr class='baseline'><td></td></tr></tbody></table><table><tr><td>x</td></tr></table>")
    assert rows_of(page) == 2


def test_the_warm_up_is_dropped_and_failures_are_kept_apart():
    samples = [("/a", 100.0, 999.0, None)]  # started in the warm-up
    samples += [("/a", 106.0 + i, float(i), None) for i in range(1, 101)] + [("/b", 107.0, 1.0, "HTTPError(503)")]
    a = bench.summary(samples, "/a", first=100.0, warmup=5)
    assert a["requests"] == 100 and a["failures"] == []
    assert a["p50"] == 50.5 and round(a["p95"], 2) == 95.05 and a["p99"] < 100
    assert bench.summary(samples, "/b", first=100.0, warmup=5)["failures"] == ["HTTPError(503)"]
