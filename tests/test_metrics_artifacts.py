"""The checkerboard energy: a pure period-two pattern is 1, smooth images near 0, and the
formula agrees with the share of the Nyquist bins in torch.fft's spectrum."""
import pytest
import torch

from gentut.metrics import checkerboard_energy


def test_a_pure_checkerboard_has_all_its_energy_at_nyquist_and_a_flat_image_none():
    i, j = torch.meshgrid(torch.arange(8), torch.arange(6), indexing="ij")
    board = ((i + j) % 2).float()[None, None]  # (1, 1, 8, 6)
    stripes = (i % 2).float()[None, None]
    flat = torch.full((1, 1, 8, 6), 0.3)
    assert torch.allclose(checkerboard_energy(torch.cat([board, stripes, flat])), torch.tensor([1.0, 1.0, 0.0]))


def test_it_equals_the_nyquist_share_of_the_fft_spectrum():
    torch.manual_seed(0)
    images = torch.rand(5, 3, 12, 10)
    spectrum = torch.fft.fft2(images.double()).abs().pow(2)  # (N, C, H, W)
    nyquist = spectrum[..., 6, 0] + spectrum[..., 0, 5] + spectrum[..., 6, 5]
    share = nyquist / (spectrum.sum(dim=(2, 3)) - spectrum[..., 0, 0])
    assert torch.allclose(checkerboard_energy(images).double(), share.mean(dim=1), atol=1e-6)


def test_a_smooth_image_has_little_and_adding_a_checkerboard_raises_it():
    y, x = torch.meshgrid(torch.linspace(0, 1, 28), torch.linspace(0, 1, 28), indexing="ij")
    smooth = torch.exp(-((x - 0.5) ** 2 + (y - 0.5) ** 2) / 0.05)[None, None]
    board = ((torch.arange(28)[:, None] + torch.arange(28)[None, :]) % 2).float()
    assert checkerboard_energy(smooth).item() < 1e-3
    assert checkerboard_energy(smooth + 0.05 * board).item() > 10 * checkerboard_energy(smooth).item()


def test_bad_shapes_are_refused_with_what_was_expected():
    with pytest.raises(ValueError, match=r"images must be a batch \(N, C, H, W\), got \(28, 28\)"):
        checkerboard_energy(torch.rand(28, 28))
    with pytest.raises(ValueError, match="need even sides, got 7x8"):
        checkerboard_energy(torch.rand(1, 1, 7, 8))
