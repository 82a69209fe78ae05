"""gentut: the models, trainer, data, metrics and plots behind the gentut book."""
__version__ = "0.1.0"
