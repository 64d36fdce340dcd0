import json

from deepclust._io import save_json
from deepclust.bench import (
    load_results,
    paper_score,
    result_path,
    run_benchmark,
    split_method,
    summary_table,
    throughput,
    total_seconds,
    write_summary,
)
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


TINY_AE_ARGS = ["--set", "latent_dim=3", "--set", "mlp_hidden=(16,)", "--set", "pretrain_epochs=2",
                "--set", "cluster_epochs=1", "--set", "n_init=2"]


def test_bench_shares_pretraining_and_counts_its_time(tmp_path):
    out, cache = tmp_path / "res", tmp_path / "cache"
    dec, idec = run_benchmark(["dec", "idec"], ["digits"], [0], out, extra_args=TINY_AE_ARGS,
                              pretrain_cache=str(cache), log=False)
    assert "error" not in dec and "error" not in idec
    assert "cached_seconds" not in dec and idec["cached_seconds"] > 0
    assert len(list(cache.glob("ae-*.pt"))) == 1
    pre = [h for h in idec["history"] if h["stage"] == "pretrain"]
    assert pre == [h for h in dec["history"] if h["stage"] == "pretrain"]  # the same pretraining
    assert total_seconds(idec) == idec["wall_seconds"] + idec["cached_seconds"]
    assert set(throughput(dec)) == {"pretrain", "cluster"}


def test_bench_runs_a_preset_as_its_own_method(tmp_path):
    out = tmp_path / "res"
    tiny = ["--set", "latent_dim=3", "--set", "mlp_hidden=(16,)", "--set", "pretrain_epochs=1"]
    (result,) = run_benchmark(["dscdan@convae"], ["digits"], [0], out, extra_args=tiny,
                              log=False)
    assert result["method"] == "dscdan@convae" and result["params"]["spectral"] is False
    assert "--preset convae" in result["command"]
    assert result_path(out, "dscdan@convae", "digits", 0).is_file()


def test_bench_runs_settings_as_their_own_method(tmp_path, capsys):
    assert split_method("dscdan@full+precision=bf16+lr=0.01") == (
        "dscdan", "full", ["precision=bf16", "lr=0.01"])
    assert split_method("kmeans") == ("kmeans", None, [])
    assert split_method("dscdan@convae+mi+rs") == ("dscdan", "convae+mi+rs", [])
    assert split_method("dscdan@convae+mi+lr=0.1") == ("dscdan", "convae+mi", ["lr=0.1"])
    out = tmp_path / "res"
    (result,) = run_benchmark(["kmeans+n_init=2"], ["digits"], [0], out, log=False)
    assert result["method"] == "kmeans+n_init=2" and result["params"]["n_init"] == 2
    assert "--set n_init=2" in result["command"]
    assert result_path(out, "kmeans+n_init=2", "digits", 0).is_file()
    assert main(["bench", "--methods", "kmeans+inits=2", "--out", str(tmp_path)]) == 1
    assert "KMeans has no parameter 'inits'" in capsys.readouterr().err


def test_bench_cli_checks_presets(tmp_path, capsys):
    assert main(["bench", "--methods", "dscdan@nope", "--out", str(tmp_path)]) == 1
    assert "unknown variant 'nope'" in capsys.readouterr().err
    assert main(["bench", "--methods", "kmeans@full", "--out", str(tmp_path)]) == 1
    assert "has no presets" in capsys.readouterr().err


def test_paper_scores_for_presets_and_proxies():
    assert paper_score("dscdan@full", "mnist-test") == ((0.946, 0.980), False)
    assert paper_score("dscdan@convae", "usps") == ((0.652, 0.698), False)
    assert paper_score("dscdan", "fashion-test") == ((0.645, 0.662), True)
    assert paper_score("spectralnet", "usps") == (None, False)
    row = {"method": "dscdan", "data": "fashion-test", "seed": 0, "wall_seconds": 1.0,
           "peak_memory_mb": 1.0, "metrics": {"acc": 0.6, "nmi": 0.6, "ari": 0.5}}
    assert "| 0.662 / 0.645 † | -0.062 |" in summary_table([row])


def _fake(method, data, seed, acc, stages=(("pretrain", 2.0),)):
    return {"method": method, "data": data, "seed": seed, "n_samples": 100, "wall_seconds": 5.0,
            "peak_memory_mb": 50.0, "metrics": {"acc": acc, "nmi": acc, "ari": acc},
            "environment": {"threads": 2},
            "command": f"deepclust fit --method {method} --seed {seed} --out OUT",
            "history": [{"stage": s, "epoch": 1, "seconds": sec} for s, sec in stages]}


def test_report_is_generated_from_result_files_and_is_stable(tmp_path, capsys):
    res = tmp_path / "benchmarks"
    for r in (_fake("dscdan", "mnist-test", 0, 0.7), _fake("dscdan", "mnist-test", 1, 0.8),
              _fake("dscdan@convae", "mnist-test", 0, 0.5), _fake("kmeans", "usps", 0, 0.6)):
        save_json(r, result_path(res / r["data"], r["method"], r["data"], r["seed"]))
    wine = _fake("dcfae", "wine", 0, 0.9)
    save_json(wine, result_path(res / "vectors", "dcfae", "wine", 0))
    fast = _fake("dscdan+precision=bf16", "mnist-test", 0, 0.9)
    save_json(fast, result_path(res / "speed", fast["method"], "mnist-test", 0))
    for commit, seconds in (("aaa", 4.0), ("bbb", 1.0)):  # an earlier commit and a later one
        run = {**_fake(f"dcfae#{commit}", "mnist-test", 0, 0.5, (("pretrain", seconds),)),
               "commit": commit, "against": "aaa"}
        save_json(run, result_path(res / "speedup", run["method"], "mnist-test", 0))
    for n, peak in ((10_000, 300.0), (1_000_000, 2_500.0)):
        big = {**_fake("dscdan", f"blobs-{n}", 0, 0.95), "n_samples": n, "peak_memory_mb": peak,
               "costs": {"setup": {"seconds": 1.0, "peak_mb": 200.0},
                         "pretrain": {"seconds": 2.5, "peak_mb": peak}}}
        save_json(big, result_path(res / "scale", "dscdan", big["data"], 0))
    plain = {**_fake("kmeans", "blobs-1m", 0, 0.9), "n_samples": 1_000_000}  # no costs
    save_json(plain, result_path(res / "scale", "kmeans", "blobs-1m", 0))
    (res / "NOTES.md").write_text("## Reading the gaps\n\nHand-written.\n")
    figs = tmp_path / "docs" / "figures"
    figs.mkdir(parents=True)
    (figs / "tsne.png").write_bytes(b"png")
    save_json({"title": "t-SNE", "caption": "Maps.", "command": "deepclust tsne", "seconds": 3,
               "model_command": "deepclust fit --data x"}, figs / "tsne.json")
    page = tmp_path / "docs" / "BENCHMARKS.md"
    args = ["report", "--results", str(res), "--out", str(page), "--figures", str(figs)]
    assert main(args) == 0
    text = page.read_text()
    assert "| mnist-test | dscdan | 2 | 0.750 ± 0.050 |" in text
    before, session = text.split("## Speed, one session")
    assert "precision=bf16" not in before  # speed runs: only in their own tables
    assert "| mnist-test | dscdan+precision=bf16 | 1 | 0.900" in session.split("## Machine")[0]
    quality, vectors = text.split("## Feature vectors")[0], text.split("## Feature vectors")[1]
    assert "| wine | dcfae | 1 | 0.900" in vectors.split("## Speed")[0]
    assert "and `breast-cancer` (569 × 30, 2 classes), each" in vectors  # from the registry
    assert "`topics` (tf-idf of 6,000 documents × 2,000 terms from 20 topics)" in vectors
    assert "wine" not in quality  # the vector sets have their own table
    assert "blobs-" not in quality and "blobs-" not in vectors.split("## Speed")[0]
    speedup = text.split("## Speed-up over commit aaa")[1].split("## Scale")[0]
    assert "(then) and at bbb (now)" in speedup
    assert "| mnist-test | dcfae | pretrain | 25 | 100 | 4.00× |" in speedup
    assert "dcfae#" not in text.split("## Speed-up")[0]  # not in the quality or speed tables
    scale = text.split("## Scale")[1].split("## Figures")[0]
    assert "| setup s / MB | pretrain s / MB | other s | fit s | peak MB | ACC |" in scale
    assert "| dscdan | 1,000,000 | 1.0 / 200 | 2.5 / 2,500 | 1.5 | 5.0 | 2,500 | 0.950 |" in scale
    assert "| kmeans | 1,000,000 | – | – | 5.0 | 5.0 | 50 | 0.900 |" in scale
    assert "(figures/scale.png)" in scale and (figs / "scale.png").read_bytes()[:4] == b"\x89PNG"
    assert "## DSCDAN ablation (Table 4)" in text and "| mnist-test | dscdan@convae | 1 |" in text
    assert "| mnist-test | dscdan | 2 | pretrain 50 | 5.0 |" in text  # 100 samples / 2 s
    assert "![t-SNE](figures/tsne.png)" in text and "Hand-written." in text
    assert "The model came from `deepclust fit --data x`." in text
    assert "- `deepclust fit --method kmeans --seed S --out OUT` for S in 0\n" in text
    assert "- `deepclust fit --method dscdan --seed S --out OUT` for S in 0, 1\n" in text
    assert main(args) == 0 and page.read_text() == text  # twice: nothing changes
    assert main(["report", "--results", str(tmp_path / "none"), "--out", str(page)]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_tsne_maps_a_fitted_model(tmp_path, capsys):
    model_dir = tmp_path / "run"
    assert main(["fit", "--method", "dec", "--out", str(model_dir), "-q", *TINY_AE_ARGS]) == 0
    png = tmp_path / "fig" / "tsne.png"
    assert main(["tsne", "--model", str(model_dir / "model.pt"), "--data", "digits",
                 "--samples", "120", "--out", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    meta = json.loads(png.with_suffix(".json").read_text())
    assert "raw pixels, DEC embedding" in meta["caption"]  # DEC clusters its codes: one map
    assert meta["model_command"].startswith("deepclust fit --method dec")
    assert main(["fit", "--method", "spectral", "--out", str(tmp_path / "sc"), "-q"]) == 0
    assert main(["tsne", "--model", str(tmp_path / "sc" / "model.pt"), "--data", "digits",
                 "--out", str(tmp_path / "x.png")]) == 1
    assert "has no embedding" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
