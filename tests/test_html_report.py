"""The HTML report of a fit: self-contained, with every section, from Python and the CLI, and
rendered by a real browser (headless Chromium, where installed)."""

import re
import shutil
import subprocess

import pytest
from conftest import shape_images

from deepclust import DEC, KMeans
from deepclust.cli import main
from deepclust.html_report import write_html_report

SMALL_DEC = dict(latent_dim=4, mlp_hidden=(32,), pretrain_epochs=3, cluster_epochs=2, batch_size=32,
                 verbose=0, device="cpu")


def sections(page: str) -> list[str]:
    return re.findall(r"<h2>(.*?)</h2>", page)


def images(page: str) -> list[str]:
    return re.findall(r'<img alt="[^"]*" src="([^"]*)"', page)


@pytest.fixture(scope="module")
def image_fit():
    X, y = shape_images(20)
    return DEC(3, **SMALL_DEC).fit(X), X, y


def test_image_report_is_self_contained_with_every_section(image_fit, tmp_path):
    model, X, y = image_fit
    path = write_html_report(model, X, tmp_path / "r.html", y=y, map_samples=40,
                             result={"method": "dec", "data": "shapes", "command": "deepclust x",
                                     "wall_seconds": 1.5, "peak_memory_mb": 100.0})
    page = path.read_text()
    assert sections(page) == ["Metrics", "Confusion matrix", "Cluster sizes",
                              "Samples per cluster", "Map of the embedding", "Training curves"]
    srcs = images(page)
    assert len(srcs) == 5 and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "http" not in page.replace("<!DOCTYPE html>", "")  # nothing fetched from a network
    assert "deepclust x" in page and "1.5 s" in page and "nearest to the cluster" in page
    acc = re.search(r"<th>ACC</th>.*?<td>([0-9.]+)</td>", page, re.S)
    assert acc and float(acc.group(1)) > 0.9


def test_vector_report_lists_top_features_and_needs_no_labels(blobs, tmp_path):
    X = blobs[0].copy()
    X[blobs[1] == 2, 7] += 5  # feature 7 stands out in class 2's cluster
    model = KMeans(3).fit(X)
    page = write_html_report(model, X, tmp_path / "v.html", map_samples=50).read_text()
    assert sections(page) == ["Cluster sizes", "Top features per cluster", "Map of the embedding"]
    k = model.labels_[blobs[1] == 2][0]
    row = re.search(rf"<tr><td>{k}</td><td>[0-9,]+</td><td>(.*?)</td></tr>", page).group(1)
    assert row.startswith("feature 7 ")


def test_report_refuses_other_data(image_fit, tmp_path):
    model, X, _ = image_fit
    with pytest.raises(ValueError, match="fitted on 60 samples but X has 59"):
        write_html_report(model, X[:59], tmp_path / "r.html")
    assert not list(tmp_path.iterdir())


def test_fit_writes_the_report_and_report_run_rebuilds_it(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["fit", "--method", "kmeans", "--data", "digits", "--out", str(out), "-q"]) == 0
    first = (out / "report.html").read_text()
    assert "Samples per cluster" in first and "kmeans on digits" in first
    (out / "report.html").unlink()
    assert main(["report", "--run", str(out)]) == 0
    assert (out / "report.html").read_text() == first  # same files in, same page out
    assert main(["fit", "--method", "kmeans", "--data", "digits", "--out", str(tmp_path / "b"),
                 "--no-report"]) == 0
    assert not (tmp_path / "b" / "report.html").exists()
    capsys.readouterr()
    assert main(["report", "--run", str(tmp_path / "nothing")]) == 1
    assert "is not a finished run" in capsys.readouterr().err
    assert main(["report", "--run", str(out), "--data", "blobs"]) == 1
    assert "pass the data it was fitted on" in capsys.readouterr().err


CHROMIUM = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(b)), None)


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt install chromium)")
def test_the_page_renders_in_headless_chromium_with_the_image_grid(image_fit, tmp_path):
    import matplotlib.image

    model, X, y = image_fit
    page = write_html_report(model, X, tmp_path / "r.html", y=y, map_samples=40)
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1100,3200", f"--screenshot={shot}", page.as_uri()],
                   check=True, capture_output=True, timeout=120)
    pixels = matplotlib.image.imread(shot)[..., :3].mean(-1)
    assert pixels.shape == (3200, 1100)
    # the grid of samples: rows of images, i.e. many dark pixels in a band of the page
    dark_rows = (pixels < 0.3).mean(1)
    assert (dark_rows > 0.05).sum() > 100
    assert pixels.std() > 0.1
