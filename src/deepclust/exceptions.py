"""The errors deepclust raises for problems a user can fix."""


class DeepclustError(ValueError):
    """A problem with the user's input or set-up; the message says what to do."""


class DataError(DeepclustError):
    """A dataset or data file is missing, corrupt, or in a format deepclust cannot read."""


class NotFittedError(DeepclustError, AttributeError):
    """An estimator was used before ``fit``."""
