"""Training machinery for the deep methods: device, precision, seeding, batches, loop,
checkpoints."""

from .checkpoint import load_checkpoint, save_checkpoint
from .device import resolve_device
from .loop import EarlyStopping, minibatches, run_epochs
from .precision import PRECISIONS, autocast, check_precision
from .seeding import get_rng_state, seed_from, seeded, set_rng_state

__all__ = [
    "PRECISIONS",
    "EarlyStopping",
    "autocast",
    "check_precision",
    "get_rng_state",
    "load_checkpoint",
    "minibatches",
    "resolve_device",
    "run_epochs",
    "save_checkpoint",
    "seed_from",
    "seeded",
    "set_rng_state",
]
