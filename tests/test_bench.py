import json

from deepclust.bench import load_results, result_path, run_benchmark, summary_table, write_summary
from deepclust.cli import main


def test_bench_runs_isolated_resumable_and_summarises(tmp_path):
    out = tmp_path / "results"
    results = run_benchmark(["kmeans"], ["digits", "not-a-dataset"], [0, 1], out, log=False)
    assert [("error" in r) for r in results] == [False, False, True, True]
    assert "not-a-dataset" in results[2]["error"]
    ok = json.loads(result_path(out, "kmeans", "digits", 0).read_text())
    for key in ("metrics", "wall_seconds", "peak_memory_mb", "environment", "params", "command"):
        assert key in ok
    assert ok["environment"]["threads"] >= 1
    assert ok["command"].startswith("deepclust fit --method kmeans --data digits --seed 0")

    stamp = result_path(out, "kmeans", "digits", 1).stat().st_mtime_ns
    again = run_benchmark(["kmeans"], ["digits"], [0, 1], out, log=False)
    assert result_path(out, "kmeans", "digits", 1).stat().st_mtime_ns == stamp  # not rerun
    assert [r["metrics"] for r in again] == [r["metrics"] for r in results[:2]]

    table = summary_table(load_results(out))
    mean_acc = sum(r["metrics"]["acc"] for r in results[:2]) / 2
    assert f"| digits | kmeans | 2 | {mean_acc:.3f} ± " in table
    assert "| not-a-dataset | kmeans | 0 (+2 failed) |" in table
    first = write_summary(out).read_text()
    assert write_summary(out).read_text() == first  # regenerating changes nothing


def test_summary_compares_with_the_paper():
    result = {"method": "kmeans", "data": "mnist-test", "seed": 0, "wall_seconds": 1.0,
              "peak_memory_mb": 10.0, "metrics": {"acc": 0.5, "nmi": 0.5, "ari": 0.3}}
    assert "| 0.546 / 0.501 | -0.046 |" in summary_table([result])


def test_bench_cli_checks_names(tmp_path, capsys):
    assert main(["bench", "--methods", "kmean", "--out", str(tmp_path)]) == 1
    assert "Did you mean 'kmeans'" in capsys.readouterr().err
    assert main(["bench", "--methods", "kmeans", "--seeds", "a", "--out", str(tmp_path)]) == 1
    assert "--seeds takes integers" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_bench_cli_writes_summary(tmp_path, capsys):
    assert main(["bench", "--methods", "kmeans", "--seeds", "0", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "summary.md").is_file()
    assert "| digits | kmeans | 1 |" in capsys.readouterr().out
