"""Networks (`networks`) and the objectives that train them, one model per file."""
from gentut.models.autoencoder import Autoencoder, AutoencoderConfig, anomaly_scores
from gentut.models.classifier import DigitClassifier
from gentut.models.dcgan import build_dcgan, dcgan_discriminator, dcgan_generator, dcgan_optimizers
from gentut.models.gan import GAN, GANConfig
from gentut.models.networks import (
    MLP,
    ConvDecoder,
    ConvEncoder,
    LabelConditioned,
    MLPDecoder,
    MLPEncoder,
    dcgan_init_,
    with_spectral_norm,
)
from gentut.models.vae import VAE, VAEConfig
from gentut.models.vaegan import VAEGAN, VAEGANConfig, build_vaegan, vaegan_optimizers

__all__ = [
    "Autoencoder",
    "AutoencoderConfig",
    "anomaly_scores",
    "ConvDecoder",
    "ConvEncoder",
    "DigitClassifier",
    "GAN",
    "GANConfig",
    "LabelConditioned",
    "MLP",
    "MLPDecoder",
    "MLPEncoder",
    "VAE",
    "VAEConfig",
    "VAEGAN",
    "VAEGANConfig",
    "build_vaegan",
    "vaegan_optimizers",
    "build_dcgan",
    "dcgan_discriminator",
    "dcgan_generator",
    "dcgan_init_",
    "dcgan_optimizers",
    "with_spectral_norm",
]
