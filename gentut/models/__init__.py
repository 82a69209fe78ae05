"""Networks (`networks`) and the objectives that train them, one model per file."""
from gentut.models.autoencoder import Autoencoder, AutoencoderConfig, anomaly_scores
from gentut.models.networks import ConvDecoder, ConvEncoder, MLPDecoder, MLPEncoder
from gentut.models.vae import VAE, VAEConfig

__all__ = [
    "Autoencoder",
    "AutoencoderConfig",
    "anomaly_scores",
    "ConvDecoder",
    "ConvEncoder",
    "MLPDecoder",
    "MLPEncoder",
    "VAE",
    "VAEConfig",
]

from gentut.models.classifier import DigitClassifier  # noqa: E402
from gentut.models.gan import GAN, GANConfig, with_spectral_norm  # noqa: E402
from gentut.models.networks import MLP  # noqa: E402

__all__ += ["DigitClassifier", "GAN", "GANConfig", "MLP", "with_spectral_norm"]
