"""Training machinery for the deep methods: device, precision, seeding, batches, loop,
checkpoints, the costs of a fit's phases, data-parallel training under torchrun
(``distributed``)."""

from .checkpoint import load_checkpoint, save_checkpoint
from .costs import measured, peak_memory_mb
from .device import place_data, place_module, resolve_device
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
    "measured",
    "minibatches",
    "peak_memory_mb",
    "place_data",
    "place_module",
    "resolve_device",
    "run_epochs",
    "save_checkpoint",
    "seed_from",
    "seeded",
    "set_rng_state",
]
