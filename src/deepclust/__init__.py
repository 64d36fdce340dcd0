"""deepclust: deep clustering (DSCDAN, DCFAE and baselines) as scikit-learn estimators."""

__version__ = "0.1.0"
