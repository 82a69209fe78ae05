"""Every plotting function renders a titled, labelled figure to a PNG without error."""
import re

import matplotlib

matplotlib.use("Agg")  # no display: render off screen

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from gentut import plots  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _render(fig, tmp_path, name):
    assert isinstance(fig, Figure)
    path = tmp_path / f"{name}.png"
    fig.savefig(path)
    assert path.stat().st_size > 1000


def _titles(fig):
    return [ax.get_title() for ax in fig.axes] + [fig._suptitle.get_text() if fig._suptitle else ""]


def test_image_grid_renders_grey_digits_with_title(tmp_path):
    fig = plots.image_grid(torch.rand(10, 1, 28, 28), nrow=5, title="Ten digits")
    _render(fig, tmp_path, "grid")
    ax = fig.axes[0]
    assert ax.get_title() == "Ten digits"
    image = ax.get_images()[0]
    assert image.get_cmap().name == "gray" and image.get_clim() == (0.0, 1.0)
    assert image.get_array().shape == (2 * 28 + 1, 5 * 28 + 4)  # one-pixel separators
    assert list(ax.get_xticks()) == [] and list(ax.get_yticks()) == []


def test_image_grids_share_one_width():
    small = plots.image_grid(torch.rand(4, 1, 28, 28))
    large = plots.image_grid(torch.rand(64, 1, 28, 28))
    assert small.get_figwidth() == large.get_figwidth() == plots.GRID_WIDTH


def test_image_grid_accepts_numpy_rgb_and_an_existing_axes(tmp_path):
    fig, ax = plt.subplots()
    returned = plots.image_grid(np.random.rand(3, 3, 8, 8), ax=ax, title="colour")
    assert returned is fig
    _render(fig, tmp_path, "rgb")


def test_image_grid_rejects_logits_and_bad_shapes():
    with pytest.raises(ValueError, match=r"values in \[0, 1\].*logits"):
        plots.image_grid(torch.randn(4, 1, 28, 28) * 5)
    with pytest.raises(ValueError, match=r"shape \(N, C, H, W\)"):
        plots.image_grid(torch.rand(4, 784))


def test_show_reconstructions_labels_the_two_rows(tmp_path):
    x = torch.rand(12, 1, 28, 28)
    fig = plots.show_reconstructions(x, x.flip(0), n=8, title="Autoencoder reconstructions")
    _render(fig, tmp_path, "recon")
    assert [ax.get_ylabel() for ax in fig.axes] == ["original", "reconstruction"]
    assert fig._suptitle.get_text() == "Autoencoder reconstructions"


def test_show_reconstructions_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        plots.show_reconstructions(torch.rand(4, 1, 28, 28), torch.rand(4, 1, 8, 8), title="x")


class _History:
    names = ["loss", "eval/loss"]

    def series(self, name):
        steps = list(range(0, 100, 10))
        return steps, [100.0 / (s + 1) for s in steps]


def test_plot_losses_from_a_history_object_and_from_a_dict(tmp_path):
    fig = plots.plot_losses(_History(), logy=True, title="Autoencoder training")
    _render(fig, tmp_path, "losses")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "training step" and ax.get_ylabel() == "loss (nats per image)"
    assert len(ax.get_lines()) == 2 and ax.get_yscale() == "log"
    fig = plots.plot_losses({"loss": (torch.arange(5), torch.rand(5))}, ylabel="mse", title="t")
    assert fig.axes[0].get_ylabel() == "mse"
    _render(fig, tmp_path, "losses_dict")


def test_plot_losses_names_the_missing_series():
    with pytest.raises(ValueError, match=r"no series named \['kl'\]"):
        plots.plot_losses(_History(), ["kl"])


def test_plot_latent_scatter_colours_classes_with_a_legend(tmp_path):
    z = torch.randn(300, 2)
    labels = torch.arange(300) % 10
    fig = plots.plot_latent_scatter(z, labels, title="2-D codes", class_names=[str(i) for i in range(10)])
    _render(fig, tmp_path, "scatter")
    ax = fig.axes[0]
    assert ax.get_title() == "2-D codes" and ax.get_xlabel() and ax.get_ylabel()
    assert len(ax.get_legend().get_texts()) == 10


def test_plot_latent_scatter_without_labels_and_with_many_labels(tmp_path):
    _render(plots.plot_latent_scatter(np.random.randn(50, 2)), tmp_path, "plain")
    fig = plots.plot_latent_scatter(np.random.randn(50, 2), np.arange(50))
    assert len(fig.axes) == 2  # scatter and colour bar
    _render(fig, tmp_path, "colorbar")


def test_plot_latent_scatter_rejects_codes_that_are_not_2d():
    with pytest.raises(ValueError, match=r"z must have shape \(N, 2\)"):
        plots.plot_latent_scatter(torch.randn(10, 3), torch.zeros(10))


def test_interpolation_strip_one_row_and_several_rows(tmp_path):
    _render(plots.interpolation_strip(torch.rand(8, 1, 28, 28)), tmp_path, "strip")
    fig = plots.interpolation_strip(torch.rand(3, 8, 1, 28, 28), title="Three paths", row_labels=["a", "b", "c"])
    _render(fig, tmp_path, "strips")
    ax = fig.axes[0]
    assert ax.get_title() == "Three paths" and ax.get_xlabel()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]


def test_plot_curve_for_the_bottleneck_trade_off(tmp_path):
    fig = plots.plot_curve(
        [2, 4, 8, 16, 32], [0.06, 0.04, 0.02, 0.01, 0.008], logx=True,
        xlabel="latent size", ylabel="reconstruction MSE per pixel", title="Bottleneck trade-off",
    )
    _render(fig, tmp_path, "curve")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "latent size"


def test_plot_roc_shows_auc_in_legend(tmp_path):
    fig = plots.plot_roc(np.array([0, 0.1, 1]), np.array([0, 0.8, 1]), 0.85, title="Held-out digit 7")
    _render(fig, tmp_path, "roc")
    ax = fig.axes[0]
    assert "AUC = 0.850" in ax.get_legend().get_texts()[0].get_text()
    assert ax.get_xlabel() == "false positive rate" and ax.get_ylabel() == "true positive rate"


def test_every_figure_is_titled(tmp_path):
    figures = [
        plots.image_grid(torch.rand(4, 1, 8, 8)),
        plots.show_reconstructions(torch.rand(4, 1, 8, 8), torch.rand(4, 1, 8, 8)),
        plots.plot_losses(_History()),
        plots.plot_latent_scatter(torch.randn(5, 2), torch.arange(5)),
        plots.interpolation_strip(torch.rand(4, 1, 8, 8)),
        plots.plot_roc([0, 1], [0, 1], 0.5),
    ]
    for fig in figures:
        assert any(_titles(fig)), fig


def test_plot_samples_2d_scatter_and_histogram(tmp_path):
    rng = np.random.default_rng(0)
    points = rng.normal(size=(500, 2))
    fig = plots.plot_samples_2d(points, data=points + 1, title="scatter")
    assert fig.axes[0].get_title() == "scatter"
    fig.savefig(tmp_path / "scatter.png")
    fig = plots.plot_samples_2d(points, bins=20, title="histogram")
    # The histogram's colour bar is a second axes.
    assert len(fig.axes) == 2
    fig.savefig(tmp_path / "hist.png")
    plt.close("all")


def test_plot_samples_2d_rejects_points_that_are_not_2d():
    with pytest.raises(ValueError, match=r"samples must have shape \(N, 2\)"):
        plots.plot_samples_2d(np.zeros((10, 3)))


def test_plot_density_and_samples_evaluates_the_density_on_a_grid(tmp_path):
    seen = []

    def log_density(grid):
        seen.append(grid.shape)
        return -0.5 * (grid**2).sum(axis=1)  # standard Gaussian up to a constant

    rng = np.random.default_rng(0)
    fig = plots.plot_density_and_samples(
        log_density, data=rng.normal(size=(100, 2)), samples=rng.normal(size=(100, 2)),
        resolution=50, title="density",
    )
    assert seen == [(2500, 2)]
    assert fig.axes[0].get_title() == "density"
    fig.savefig(tmp_path / "density.png")
    plt.close("all")


# --- GAN discriminators on the plane -------------------------------------------------------------


def _radial_logits(points):
    return 2.0 - (points**2).sum(dim=1)  # positive ("real") inside the circle of radius sqrt(2)


def test_decision_surface_is_sigmoid_of_logits_on_an_xy_grid():
    limits = (-2.0, 2.0, -1.0, 3.0)
    probability = plots.decision_surface(_radial_logits, limits, resolution=5, kind="probability")
    score = plots.decision_surface(_radial_logits, limits, resolution=5, kind="score")
    assert probability.shape == score.shape == (5, 5)
    assert np.allclose(probability, 1 / (1 + np.exp(-score)))
    # row i follows y, column j follows x: point (x, y) = (0, 0) is column 2, row 1
    assert score[1, 2] == pytest.approx(2.0)
    assert score[0, 0] == pytest.approx(2.0 - (4.0 + 1.0))  # (x, y) = (-2, -1)
    assert score[4, 4] == pytest.approx(2.0 - (4.0 + 9.0))  # (x, y) = (2, 3)


def test_decision_surface_rejects_bad_arguments():
    with pytest.raises(ValueError, match="limits must have xmin < xmax"):
        plots.decision_surface(_radial_logits, (1, 0, 0, 1))
    with pytest.raises(ValueError, match="kind must be one of"):
        plots.decision_surface(_radial_logits, (0, 1, 0, 1), kind="logit")
    with pytest.raises(ValueError, match="expected one logit per point"):
        plots.decision_surface(lambda x: x, (0, 1, 0, 1), resolution=4)


@pytest.mark.parametrize("kind", ["probability", "score"])
def test_plot_decision_surface_draws_contours_data_and_samples(tmp_path, kind):
    rng = np.random.default_rng(0)
    fig = plots.plot_decision_surface(
        _radial_logits, data=rng.normal(size=(100, 2)), samples=torch.randn(80, 2),
        title="discriminator", resolution=30, kind=kind,
    )
    _render(fig, tmp_path, f"surface_{kind}")
    ax = fig.axes[0]
    assert ax.get_title() == "discriminator"
    assert ax.get_xlabel() == "$x_1$" and ax.get_ylabel() == "$x_2$"
    assert len(fig.axes) == 2  # the colour bar
    assert [len(c.get_offsets()) for c in ax.collections[-2:]] == [100, 80]


def test_plot_decision_surface_respects_given_limits():
    fig = plots.plot_decision_surface(
        _radial_logits, data=np.zeros((5, 2)), samples=np.ones((5, 2)), limits=(-4, 4, -3, 3),
        resolution=10,
    )
    assert fig.axes[0].get_xlim() == (-4, 4) and fig.axes[0].get_ylim() == (-3, 3)


def _frames(n, resolution=60):
    rng = np.random.default_rng(0)
    data = rng.normal(size=(300, 2))
    limits = (-3.0, 3.0, -3.0, 3.0)
    surface = plots.decision_surface(_radial_logits, limits, resolution=resolution)
    return [
        {"step": 10 * k, "samples": rng.normal(size=(300, 2)) + k / n, "data": data,
         "surface": surface if k % 2 else None, "limits": limits}
        for k in range(n)
    ]


def test_animate_2d_training_returns_small_self_contained_html_and_closes_its_figure():
    before = plt.get_fignums()
    html = plots.animate_2d_training(_frames(10), title="ring", interval=100)
    assert isinstance(html, str) and "<script" in html
    assert len(html.encode()) < 1_000_000  # 10 frames of 324 x 324 pixels
    assert html.count("data:image/") == 10
    assert plt.get_fignums() == before  # no static copy of the last frame is displayed
    # Nothing is fetched from elsewhere (matplotlib's template loads Font Awesome from a CDN),
    # and every button still shows something.
    assert "http" not in html.replace("http://www.w3.org", "")
    assert 'class="fa' not in html
    assert re.search(r'aria-label="Play"[^>]*>\s*\u25b6</button>', html)
    assert "max-width: 374px" in html  # the slider shrinks with a narrow column
    assert re.search(r'<img id="_anim_img[^"]*" alt="Animation, ring: ', html)


def test_animate_2d_training_rejects_malformed_frames():
    with pytest.raises(ValueError, match="non-empty list"):
        plots.animate_2d_training([])
    frame = _frames(1)[0]
    del frame["limits"]
    with pytest.raises(ValueError, match=r"frames\[0\] is missing \['limits'\]"):
        plots.animate_2d_training([frame])
    frame = _frames(1)[0] | {"samples": np.zeros((5, 3))}
    with pytest.raises(ValueError, match=r"frames\[0\]\['samples'\] must have shape \(N, 2\)"):
        plots.animate_2d_training([frame])


def test_plot_losses_labels_rename_the_legend_and_reject_unplotted_names():
    history = {"d_real": (torch.arange(5), torch.rand(5)), "d_fake": (torch.arange(5), torch.rand(5))}
    fig = plots.plot_losses(history, labels={"d_real": "D(x), real images"})
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert texts == ["D(x), real images", "d_fake"]
    plt.close(fig)
    with pytest.raises(ValueError, match=r"not plotted: \['g_loss'\]"):
        plots.plot_losses(history, labels={"g_loss": "generator"})
