"""deepclust: deep clustering (DSCDAN, DCFAE and baselines) as scikit-learn estimators."""

__version__ = "0.1.0"

from .data import Dataset, list_datasets, load_dataset  # noqa: E402
from .html_report import write_html_report  # noqa: E402
from .methods import DCFAE, DEC, DSCDAN, IDEC, N2D, KMeans, SpectralClustering, SpectralNet  # noqa: E402
from .metrics import cluster_accuracy, evaluate  # noqa: E402

__all__ = [
    "DCFAE",
    "DEC",
    "DSCDAN",
    "IDEC",
    "N2D",
    "Dataset",
    "KMeans",
    "SpectralClustering",
    "SpectralNet",
    "cluster_accuracy",
    "evaluate",
    "list_datasets",
    "load_dataset",
    "write_html_report",
]
