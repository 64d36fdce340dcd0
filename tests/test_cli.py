import json
import subprocess
import sys

import numpy as np
import pytest

from deepclust.cli import main, read_labels
from deepclust.data import load_dataset
from deepclust.metrics import evaluate

SHORT_DSCDAN = ["--set", "pretrain_epochs=2", "--set", "spectral_epochs=2", "--set",
                "joint_epochs=1", "--set", "mlp_hidden=(64,)", "--set", "spectral_hidden=(64,)"]


def test_fit_defaults_to_dscdan_on_digits(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["fit", "-q", *SHORT_DSCDAN]) == 0  # shortened schedule: the test stays fast
    out = tmp_path / "runs" / "dscdan-digits-seed0"
    assert "ACC" in capsys.readouterr().out
    labels = read_labels(out / "labels.csv")
    assert labels.shape == (1797,)
    result = json.loads((out / "result.json").read_text())
    assert result["metrics"]["acc"] > 0.4
    stages = [h["stage"] for h in result["history"]]
    assert stages[-1] == "self_label" and "joint" in stages  # digits are images: self-labelled
    assert result["command"].startswith("deepclust fit -q --set pretrain_epochs=2 ")
    assert result["metrics"] == pytest.approx(evaluate(load_dataset("digits").y, labels))
    for key in ("wall_seconds", "peak_memory_mb", "params", "environment", "command"):
        assert key in result
    costs = result["costs"]  # each phase of the fit: wall seconds, peak memory at its end
    assert list(costs) == ["setup", "pretrain", "graph", "spectral", "joint", "assign",
                           "self_label"]
    peaks = [c["peak_mb"] for c in costs.values()]
    assert peaks == sorted(peaks) and peaks[-1] <= result["peak_memory_mb"]
    assert 0 < sum(c["seconds"] for c in costs.values()) <= result["wall_seconds"]
    assert (out / "model.pt").is_file()
    assert main(["predict", "--model", str(out / "model.pt"), "--data", "digits",
                 "--out", str(tmp_path / "p.csv")]) == 0
    assert np.array_equal(read_labels(tmp_path / "p.csv"), labels)


def test_preset_flags(tmp_path, capsys):
    out = tmp_path / "ae"
    assert main(["fit", "--preset", "convae", "--out", str(out), "-q", *SHORT_DSCDAN]) == 0
    assert json.loads((out / "result.json").read_text())["params"]["spectral"] is False
    assert main(["fit", "--method", "kmeans", "--preset", "full", "--out", str(out)]) == 1
    assert "has no presets" in capsys.readouterr().err


def test_fit_predict_evaluate_round_trip(tmp_path, capsys):
    out = tmp_path / "sc"
    assert main(["fit", "--method", "spectral", "--seed", "3", "--out", str(out), "-q"]) == 0
    capsys.readouterr()
    assert main(["predict", "--model", str(out / "model.pt"), "--data", "digits",
                 "--out", str(tmp_path / "pred.csv")]) == 0
    assert "ACC" in capsys.readouterr().err
    fitted, predicted = read_labels(out / "labels.csv"), read_labels(tmp_path / "pred.csv")
    assert (fitted == predicted).mean() > 0.99
    assert main(["evaluate", "--labels", str(out / "labels.csv"), "--data", "digits"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["acc"] == pytest.approx(json.loads((out / "result.json").read_text())
                                          ["metrics"]["acc"])


def test_same_seed_same_labels_from_the_cli(tmp_path):
    for name in ("a", "b"):
        assert main(["fit", "--method", "kmeans", "--seed", "5", "--out", str(tmp_path / name),
                     "-q"]) == 0
    assert np.array_equal(read_labels(tmp_path / "a/labels.csv"),
                          read_labels(tmp_path / "b/labels.csv"))


def test_user_file_needs_clusters_when_unlabelled(tmp_path, capsys):
    X = np.random.default_rng(0).random((30, 4))
    np.save(tmp_path / "x.npy", X)
    assert main(["fit", "--data", str(tmp_path / "x.npy"), "--out", str(tmp_path / "o")]) == 1
    assert "--clusters" in capsys.readouterr().err
    assert main(["fit", "--method", "kmeans", "--data", str(tmp_path / "x.npy"),
                 "--clusters", "3", "--out", str(tmp_path / "o"), "-q"]) == 0
    assert read_labels(tmp_path / "o/labels.csv").shape == (30,)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["fit", "--method", "kmean"], "Did you mean 'kmeans'"),
        (["fit", "--data", "mnsit"], "Did you mean 'mnist'"),
        (["fit", "--clusters", "1"], "at least 2"),
        (["fit", "--clusters", "5000"], "needs at least 5000 samples here, got 1797"),
        (["fit", "--method", "kmeans", "--set", "n_inits=3"], "Did you mean 'n_init'"),
        (["fit", "--preset", "convae+sn"], "unknown variant"),
        (["fit", "--device", "tpu"], "device 'tpu' is not valid"),
        (["fit", "--set", "oops"], "KEY=VALUE"),
        (["predict", "--model", "missing.pt", "--data", "digits"], "does not exist"),
        (["evaluate", "--labels", "missing.csv", "--data", "digits"], "does not exist"),
    ],
)
def test_user_errors_are_one_line(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err
    assert err.startswith("deepclust: error:") and err.count("\n") == 1
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_existing_output_directory_is_not_overwritten(tmp_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["fit", "--method", "kmeans", "--out", str(out), "-q"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine"
    assert main(["fit", "--method", "kmeans", "--out", str(out), "--overwrite", "-q"]) == 0
    assert not (out / "keep.txt").exists()


def test_console_script_bad_flag_and_datasets():
    bad = subprocess.run([sys.executable, "-m", "deepclust", "fit", "--bogus"],
                         capture_output=True, text=True)
    assert bad.returncode == 2
    assert "unrecognized arguments: --bogus" in bad.stderr
    assert "Traceback" not in bad.stderr and bad.stderr.startswith("usage: deepclust")
    listing = subprocess.run([sys.executable, "-m", "deepclust.cli", "datasets"],
                             capture_output=True, text=True, check=True)
    for name in ("digits", "mnist", "mnist-test", "fashion", "fashion-test", "usps"):
        assert name in listing.stdout


def test_cli_rejects_bad_data_and_other_channels_at_predict(tmp_path, capsys):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "gray.npy", rng.random((30, 1, 8, 8)))
    np.save(tmp_path / "rgb.npy", rng.random((5, 3, 8, 8)))
    (tmp_path / "nan.csv").write_text("a,b\n1,2\nnan,3\n4,5\n")
    out = tmp_path / "o"
    assert main(["fit", "--method", "kmeans", "--data", str(tmp_path / "gray.npy"),
                 "--clusters", "3", "--out", str(out), "-q"]) == 0
    assert main(["predict", "--model", str(out / "model.pt"), "--data",
                 str(tmp_path / "rgb.npy")]) == 1
    assert "but the model was fitted on (1, 8, 8)" in capsys.readouterr().err
    assert main(["fit", "--method", "kmeans", "--data", str(tmp_path / "nan.csv"),
                 "--clusters", "2", "--out", str(tmp_path / "n")]) == 1
    assert "NaN" in capsys.readouterr().err
    assert not (tmp_path / "n").exists()
