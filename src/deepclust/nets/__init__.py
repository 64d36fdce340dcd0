"""Networks: DSCDAN's conv and MLP autoencoders, MI critics and spectral head; DCFAE's residual
encoder, decoder, discriminators and dense grouper; DEC's clustering layer. Pure modules: no
data or estimator logic."""

from .autoencoder import build_autoencoder
from .clustering import ClusteringLayer
from .conv import ConvConfig, ConvDecoder, ConvEncoder, conv_config
from .critics import GlobalCritic, LocalCritic
from .layers import keras_init_, make_activation, mlp
from .mlp import DenseGrouper, MLPDecoder, MLPDiscriminator, MLPEncoder
from .residual import Discriminator, ResBlock, ResDecoder, ResEncoder
from .spectral import SpectralHead, SpectralOutput
from .vae import EncoderOutput, VAEHead, noisy_transform

__all__ = [
    "ClusteringLayer",
    "ConvConfig",
    "ConvDecoder",
    "ConvEncoder",
    "DenseGrouper",
    "Discriminator",
    "EncoderOutput",
    "GlobalCritic",
    "LocalCritic",
    "MLPDecoder",
    "MLPDiscriminator",
    "MLPEncoder",
    "ResBlock",
    "ResDecoder",
    "ResEncoder",
    "SpectralHead",
    "SpectralOutput",
    "VAEHead",
    "build_autoencoder",
    "conv_config",
    "keras_init_",
    "make_activation",
    "mlp",
    "noisy_transform",
]
