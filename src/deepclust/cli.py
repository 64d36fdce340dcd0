"""The ``deepclust`` command line: fit, predict, evaluate, bench, report, tsne, datasets."""

from __future__ import annotations

import argparse
import ast
import json
import platform
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import __version__
from ._io import save_json, save_text
from ._shards import world
from .data import list_datasets as _list_datasets
from .data import load_dataset
from .exceptions import DataError, DeepclustError
from .methods import METHODS, BaseClusterer, get_method, make_method
from .metrics import evaluate
from .train import peak_memory_mb
from .train.distributed import init_from_env, is_main

DEFAULT_METHOD = "dscdan"
DEFAULT_DATA = "digits"


def _parse_set(items: list[str]) -> dict[str, Any]:
    params = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise DeepclustError(f"--set expects KEY=VALUE, got {item!r}.")
        try:
            params[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            params[key] = raw
    return params


def _clusters_arg(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer or 'auto', got {text!r}") from None


def environment() -> dict[str, Any]:
    """Versions, device, threads and processes (torchrun's), recorded with every result."""
    import sklearn

    return {
        "deepclust": __version__, "python": platform.python_version(), "torch": torch.__version__,
        "numpy": np.__version__, "sklearn": sklearn.__version__, "threads": torch.get_num_threads(),
        "machine": platform.machine(), "cpu": _cpu_model(), "cuda": torch.cuda.is_available(),
        "processes": world()[1],
    }


def _cpu_model() -> str:
    """The processor's name (Linux: /proc/cpuinfo), else ``platform.processor()``: results
    differ in their last digits between processors, and so do the labels of a seed."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def read_labels(path: str | Path) -> np.ndarray:
    """Read a labels file written by ``deepclust fit``/``predict`` (one integer per line)."""
    path = Path(path)
    if not path.is_file():
        raise DeepclustError(f"labels file {path} does not exist.")
    lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if lines and not lines[0].lstrip("-").isdigit():
        lines = lines[1:]
    try:
        return np.array([int(line) for line in lines], dtype=np.int64)
    except ValueError as exc:
        raise DeepclustError(f"{path} is not a labels file: one integer per line ({exc}).") from exc


def _labels_text(labels: np.ndarray) -> str:
    return "label\n" + "\n".join(str(int(v)) for v in labels) + "\n"


def _prepare_out(out: Path, *, overwrite: bool, resume: bool) -> None:
    if out.exists() and any(out.iterdir()) and not resume:
        if not overwrite:
            raise DeepclustError(
                f"output directory {out} already exists and is not empty; choose another "
                "--out, pass --overwrite to replace it, or --resume to continue its run."
            )
        if is_main():  # torchrun: rank 0 writes, the others only check
            shutil.rmtree(out)


def cmd_fit(args: argparse.Namespace) -> None:
    """``deepclust fit``; under ``torchrun --nproc_per_node N`` the deep methods train data
    parallel (``train.distributed``) and rank 0 writes the outputs."""
    init_from_env()
    klass = get_method(args.method)
    valid = klass().get_params(deep=False)
    ds = load_dataset(args.data, args.data_dir)
    n_clusters = args.clusters if args.clusters is not None else ds.n_classes
    if n_clusters is None:
        raise DeepclustError(f"{ds.name} has no labels; pass the number of clusters: --clusters K "
                             "(or --clusters auto to estimate it).")
    params = {"n_clusters": n_clusters, "random_state": args.seed, **_parse_set(args.set)}
    if "device" in valid:
        params["device"] = args.device
    if "verbose" in valid:
        params["verbose"] = 0 if args.quiet else 1
    if args.preset or args.schedule:
        if not hasattr(klass, "preset"):
            raise DeepclustError(f"{args.method!r} has no presets; drop --preset/--schedule.")
        model = klass.preset(args.preset or "full", args.schedule or "cpu", **params)
    else:
        model = make_method(args.method, **params)
    out = Path(args.out or f"runs/{args.method}-{ds.name}-seed{args.seed}")
    _prepare_out(out, overwrite=args.overwrite, resume=args.resume)
    if "checkpoint_dir" in valid:
        model.set_params(checkpoint_dir=str(out / "checkpoints"))
    tic = time.perf_counter()
    model.fit(ds.X, ds.y, resume=args.resume)
    seconds = time.perf_counter() - tic
    if not is_main():
        return
    result: dict[str, Any] = {
        "method": args.method, "data": ds.name, "n_samples": int(len(ds.X)),
        "n_clusters": int(model.n_clusters_), "seed": args.seed, "wall_seconds": seconds,
        "peak_memory_mb": peak_memory_mb(), "params": model.get_params(deep=False),
        "environment": environment(), "command": args.command_line,
    }
    if getattr(model, "eigenvalues_", None) is not None:  # n_clusters="auto"
        result["eigenvalues"] = [float(v) for v in model.eigenvalues_]
    if ds.y is not None:
        result["metrics"] = evaluate(ds.y, model.labels_)
    if getattr(model, "history_", None):
        result["history"] = model.history_
    if getattr(model, "costs_", None):
        result["costs"] = model.costs_
    if getattr(model, "pretrain_cached_", False):  # loaded, not trained: its recorded time
        result["cached_seconds"] = sum(h["seconds"] for h in model.history_
                                       if h["stage"] == "pretrain")
    save_text(_labels_text(model.labels_), out / "labels.csv")
    model.save(out / "model.pt")
    save_json(result, out / "result.json")
    scores = "  ".join(f"{k.upper()} {v:.4f}" for k, v in result.get("metrics", {}).items())
    print(f"{args.method} on {ds.name} ({len(ds.X)} samples, {model.n_clusters_} clusters"
          f"{' estimated' if n_clusters == 'auto' else ''}): "
          f"{scores}  wall {seconds:.1f} s -> {out}")
    if not args.no_report:
        from .html_report import write_html_report

        page = write_html_report(model, ds.X, out / "report.html", y=ds.y, result=result,
                                 seed=args.seed)
        print(f"report -> {page}")


def cmd_predict(args: argparse.Namespace) -> None:
    model = BaseClusterer.load(args.model)
    ds = load_dataset(args.data, args.data_dir)
    labels = model.predict(ds.X)
    if args.out:
        save_text(_labels_text(labels), args.out)
    else:
        sys.stdout.write(_labels_text(labels))
    if ds.y is not None:
        scores = evaluate(ds.y, labels)
        print("  ".join(f"{k.upper()} {v:.4f}" for k, v in scores.items()), file=sys.stderr)


def cmd_evaluate(args: argparse.Namespace) -> None:
    ds = load_dataset(args.data, args.data_dir)
    if ds.y is None:
        raise DataError(f"{ds.name} has no labels to score against.")
    print(json.dumps(evaluate(ds.y, read_labels(args.labels)), indent=2))


def cmd_bench(args: argparse.Namespace) -> None:
    from .bench import load_results, run_benchmark, split_method, summary_table, write_summary

    def split(text: str) -> list[str]:
        return [item for item in text.split(",") if item]

    for spec in split(args.methods):
        method, preset, settings = split_method(spec)
        klass = get_method(method)
        if preset is not None:
            if not hasattr(klass, "preset"):
                raise DeepclustError(f"{method!r} has no presets; drop '@{preset}'.")
            klass.preset(preset)
        make_method(method, **_parse_set(settings))  # unknown settings: a clear error now
    try:
        seeds = [int(s) for s in split(args.seeds)]
    except ValueError as exc:
        raise DeepclustError(f"--seeds takes integers separated by commas ({exc}).") from exc
    extra = [arg for item in args.set for arg in ("--set", item)]
    run_benchmark(split(args.methods), split(args.data), seeds, args.out, extra_args=extra,
                  data_dir=args.data_dir, pretrain_cache=args.pretrain_cache)
    path = write_summary(args.out)
    print(summary_table(load_results(args.out)) + f"-> {path}")


def cmd_report(args: argparse.Namespace) -> None:
    if args.run:
        return _run_report(args)
    from .report import write_report

    if not Path(args.results).is_dir():
        raise DeepclustError(f"results folder {args.results} does not exist; run "
                             "`deepclust bench --out` into it first.")
    print(f"-> {write_report(args.results, args.out or 'docs/BENCHMARKS.md', args.figures)}")


def _run_report(args: argparse.Namespace) -> None:
    """The HTML report of a finished ``deepclust fit --out DIR`` run, from its files."""
    from .html_report import write_html_report

    run = Path(args.run)
    missing = [f for f in ("result.json", "model.pt") if not (run / f).is_file()]
    if missing:
        raise DeepclustError(f"{run} is not a finished run of `deepclust fit --out`: "
                             f"{', '.join(missing)} missing.")
    result = json.loads((run / "result.json").read_text())
    model = BaseClusterer.load(run / "model.pt")
    model.labels_ = read_labels(run / "labels.csv")
    ds = load_dataset(args.data or result["data"], args.data_dir)
    out = Path(args.out or run / "report.html")
    page = write_html_report(model, ds.X, out, y=ds.y, result=result, seed=result.get("seed", 0))
    print(f"-> {page}")


def cmd_tsne(args: argparse.Namespace) -> None:
    from .plots import plot_maps, tsne_maps

    model = BaseClusterer.load(args.model)
    if not hasattr(model, "transform"):
        raise DeepclustError(f"a {type(model).__name__} has no embedding to map; use a deep "
                             "method's model.")
    ds = load_dataset(args.data, args.data_dir)
    if ds.y is None:
        raise DataError(f"{ds.name} has no labels to colour the maps by.")
    if args.samples < 2:
        raise DeepclustError(f"--samples must be at least 2, got {args.samples}.")
    tic = time.perf_counter()
    maps, idx = tsne_maps(ds.X, model, n_samples=args.samples, seed=args.seed)
    out = Path(args.out)
    name = type(model).__name__
    plot_maps(maps, ds.y[idx], out, title=f"{name} on {ds.name}: t-SNE, coloured by class")
    meta = {
        "title": f"t-SNE of {ds.name}", "command": args.command_line,
        "caption": f"2-D t-SNE of {len(idx):,} random {ds.name} samples (seed {args.seed}): "
                   + ", ".join(maps) + f", coloured by true class (as the DSCDAN paper's "
                   f"Fig. 6). Model: {name}.",
        "seconds": time.perf_counter() - tic, "n_samples": len(idx), "seed": args.seed,
    }
    fit_result = Path(args.model).with_name("result.json")  # written by `deepclust fit`
    if fit_result.is_file():
        meta["model_command"] = json.loads(fit_result.read_text()).get("command")
    save_json(meta, out.with_suffix(".json"))
    print(f"-> {out}")


def cmd_datasets(args: argparse.Namespace) -> None:
    for info in _list_datasets(args.data_dir):
        shape = "x".join(str(s) for s in info["shape"])
        print(f"{info['name']:<14}{info['n_samples']:>7} x {shape:<9} {info['n_classes']:>3} "
              f"classes  {info['location']}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deepclust", description=__doc__)
    parser.add_argument("--version", action="version", version=f"deepclust {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def data_args(p: argparse.ArgumentParser, default: str | None) -> None:
        p.add_argument("--data", default=default, required=default is None,
                       help="dataset name (see `deepclust datasets`) or a .npy/.npz/.csv file "
                       "or image folder" + (f" (default {default})" if default else ""))
        p.add_argument("--data-dir", help="folder holding the dataset files (else "
                       "$DEEPCLUST_DATA, then the cache, then download)")

    fit = sub.add_parser("fit", help="cluster a dataset and save labels, metrics and the model")
    fit.add_argument("--method", default=DEFAULT_METHOD,
                     help=f"one of {', '.join(METHODS)} (default {DEFAULT_METHOD})")
    data_args(fit, DEFAULT_DATA)
    fit.add_argument("--clusters", type=_clusters_arg,
                     help="number of clusters, or 'auto' to estimate it from the eigengap "
                     "(dscdan, spectralnet, spectral; default: the classes)")
    fit.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    fit.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    fit.add_argument("--out", help="output directory (default runs/METHOD-DATA-seedS)")
    fit.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    fit.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    fit.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="set a method parameter, e.g. --set n_init=20 (repeatable)")
    fit.add_argument("--preset", help="an ablation: dscdan: a row of the paper's Table 4 (convae, "
                     "convae+mi, convae+rs, convae+mi+rs, full); dcfae: vae, fae-nores, fae, "
                     "full (default full)")
    fit.add_argument("--schedule", help="dscdan, dcfae: cpu (default) or paper")
    fit.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    fit.add_argument("--no-report", action="store_true",
                     help="skip report.html (its 2-D map takes some seconds)")
    fit.set_defaults(func=cmd_fit)

    pred = sub.add_parser("predict", help="assign new data to a fitted model's clusters")
    pred.add_argument("--model", required=True, help="model.pt written by `deepclust fit`")
    data_args(pred, None)
    pred.add_argument("--out", help="labels file to write (default: standard output)")
    pred.set_defaults(func=cmd_predict)

    ev = sub.add_parser("evaluate", help="score a labels file against a dataset's classes")
    ev.add_argument("--labels", required=True, help="labels file (one integer per line)")
    data_args(ev, None)
    ev.set_defaults(func=cmd_evaluate)

    bench = sub.add_parser("bench", help="run methods x datasets x seeds, one result file each")
    bench.add_argument("--methods", default="dscdan,kmeans",
                       help="comma-separated methods, each NAME, NAME@PRESET (a row of an "
                       "ablation table, e.g. dscdan@convae) and/or NAME+KEY=VALUE (settings "
                       "that label their own rows, e.g. dscdan+precision=bf16)")
    bench.add_argument("--data", default=DEFAULT_DATA, help="comma-separated datasets")
    bench.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    bench.add_argument("--out", required=True, help="results folder (finished runs are kept)")
    bench.add_argument("--data-dir", help="folder holding the dataset files")
    bench.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="passed to every `deepclust fit`")
    bench.add_argument("--pretrain-cache", metavar="DIR",
                       help="share pretrained autoencoders between dec, idec, spectralnet and "
                       "n2d runs of the same data and seed (their time is still counted)")
    bench.set_defaults(func=cmd_bench)

    rep = sub.add_parser("report", help="write docs/BENCHMARKS.md from the result files, or "
                         "the HTML report of one run (--run)")
    rep.add_argument("--results", default="benchmarks",
                     help="folder of result folders, one per data set (default benchmarks)")
    rep.add_argument("--run", metavar="DIR",
                     help="a `deepclust fit --out` folder: write its report.html instead")
    rep.add_argument("--data", help="with --run: the data it was fitted on (default: the "
                     "one its result.json names)")
    rep.add_argument("--data-dir", help="with --run: folder holding the dataset files")
    rep.add_argument("--out", help="page to write (default docs/BENCHMARKS.md, or "
                     "DIR/report.html with --run)")
    rep.add_argument("--figures", default="docs/figures",
                     help="folder of figures made by `deepclust tsne` (default docs/figures)")
    rep.set_defaults(func=cmd_report)

    tsne = sub.add_parser("tsne", help="t-SNE maps of pixels, codes and a model's embedding")
    tsne.add_argument("--model", required=True, help="model.pt written by `deepclust fit`")
    data_args(tsne, None)
    tsne.add_argument("--out", required=True, help="PNG to write (a .json caption beside it)")
    tsne.add_argument("--samples", type=int, default=3000, help="random samples (default 3000)")
    tsne.add_argument("--seed", type=int, default=0, help="subsample and t-SNE seed")
    tsne.set_defaults(func=cmd_tsne)

    ds = sub.add_parser("datasets", help="list the built-in datasets and where they are found")
    ds.add_argument("--data-dir", help="folder to look in first")
    ds.set_defaults(func=cmd_datasets)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``deepclust`` console script."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.command_line = shlex.join(["deepclust", *argv])
    try:
        args.func(args)
    except DeepclustError as exc:
        print(f"deepclust: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("deepclust: interrupted; run again with --resume to continue.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
