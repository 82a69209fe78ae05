"""Checkers for the book's coding exercises, called from a notebook.

Each ``check_*`` function runs the reader's code on fixed inputs and compares it with the
reference implementation in `gentut`. On success it prints one line starting with "Correct:" and
returns None. On failure it raises `ExerciseCheckError` (an AssertionError) whose message says
what was expected, what came, and, where a common mistake explains the difference, which one.
A function that raises NotImplementedError (a workbook's blank, `gentut.workbooks`) gives
`ExerciseNotDone`, which a notebook shows as one line saying what to write.

One file per chapter (`autoencoders`, `vae`, `gan`, `dcgan`, `vaegan`, `comparison`), the shared parts in `checks`. A new
chapter adds its file in the same shape: build inputs with a fixed seed, call the reader's
function through `checks._call`, then `checks._compare` its output with the reference and with
known mistakes. Every checker is importable from ``gentut.exercises`` directly.
"""
from gentut.exercises.autoencoders import (
    check_corruption,
    check_encoder_shapes,
    check_reconstruction_loss,
)
from gentut.exercises.checks import ExerciseCheckError, ExerciseNotDone
from gentut.exercises.comparison import check_quantize, check_roc_auc
from gentut.exercises.dcgan import check_conv_output_size, check_dcgan_init, check_transposed_output_size
from gentut.exercises.gan import check_discriminator_loss, check_generator_loss
from gentut.exercises.vae import check_elbo, check_gaussian_kl, check_reparameterize
from gentut.exercises.vaegan import check_balance, check_vaegan_losses

__all__ = [
    "ExerciseCheckError",
    "ExerciseNotDone",
    "check_reconstruction_loss",
    "check_corruption",
    "check_encoder_shapes",
    "check_reparameterize",
    "check_gaussian_kl",
    "check_elbo",
    "check_discriminator_loss",
    "check_generator_loss",
    "check_conv_output_size",
    "check_transposed_output_size",
    "check_dcgan_init",
    "check_vaegan_losses",
    "check_balance",
    "check_roc_auc",
    "check_quantize",
]
