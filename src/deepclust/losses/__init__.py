"""Loss terms, each named as in its paper: DSCDAN (reconstruction, KL, MI, spectral), DCFAE
(pixel BCE, Student-t cross-entropy, GAN) and DEC/IDEC (self-training KL). Pure functions of
tensors."""

from .adversarial import discriminator_loss, generator_loss
from .kl import kl_mixture, kl_normal, kl_to_uniform
from .mi import jsd_mi_loss, shuffle_batch
from .reconstruction import bce_reconstruction, reconstruction_loss, relative_reconstruction_loss
from .self_training import kl_self_training, target_distribution
from .similarity import pairwise_cross_entropy, perplexity_similarity, student_t_similarity
from .spectral import spectral_loss

__all__ = [
    "bce_reconstruction",
    "discriminator_loss",
    "generator_loss",
    "jsd_mi_loss",
    "kl_mixture",
    "kl_normal",
    "kl_self_training",
    "kl_to_uniform",
    "pairwise_cross_entropy",
    "perplexity_similarity",
    "reconstruction_loss",
    "relative_reconstruction_loss",
    "shuffle_batch",
    "spectral_loss",
    "student_t_similarity",
    "target_distribution",
]
