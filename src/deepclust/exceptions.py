"""The errors deepclust raises for problems a user can fix."""

from sklearn.exceptions import NotFittedError as _SklearnNotFittedError


class DeepclustError(ValueError):
    """A problem with the user's input or set-up; the message says what to do."""


class InputTypeError(DeepclustError, TypeError):
    """The input holds values that are not numbers (a TypeError too, as numpy raises)."""


class DataError(DeepclustError):
    """A dataset or data file is missing, corrupt, or in a format deepclust cannot read."""


class NotFittedError(DeepclustError, _SklearnNotFittedError):
    """An estimator was used before ``fit``."""


class TrainingError(DeepclustError):
    """Training diverged (a loss term became NaN or infinite)."""
