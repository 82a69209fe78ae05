"""Tests for gentut.trainer (with gentut.history and gentut.hooks): the loop, logging, resuming."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gentut.checkpoint import load_checkpoint
from gentut.data.loader import Batch, InMemoryLoader
from gentut.device import Precision
from gentut.history import History
from gentut.hooks import Hook, every_n_steps
import gentut.trainer as trainer_module
from gentut.trainer import NonFiniteLossError, NonFiniteStateError, Trainer, TrainStep


pytestmark = pytest.mark.usefixtures("one_thread")


# ---------------------------------------------------------------------------------------------
# Tiny models that follow the training_step contract
# ---------------------------------------------------------------------------------------------
class LinearRegression(nn.Module):
    """y = w.x + b fitted by mean squared error."""

    def __init__(self, in_features: int = 3, noise: float = 0.0) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, 1)
        self.noise = noise  # input noise drawn in training_step: exercises RNG restoring

    def training_step(self, batch: Batch, step: TrainStep) -> dict[str, torch.Tensor]:
        x = batch.x
        if self.noise:
            x = x + self.noise * torch.randn_like(x)
        with step.autocast():
            prediction = self.linear(x).squeeze(-1)  # (B,)
        loss = F.mse_loss(prediction.float(), batch.y)
        step.update(loss)
        return {"loss": loss.detach()}

    def evaluation_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        return {"loss": F.mse_loss(self.linear(batch.x).squeeze(-1), batch.y)}


class TwoPart(nn.Module):
    """Two networks with their own optimizers, updated in the order "a" then "b"."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(3, 3)
        self.b = nn.Linear(3, 1)
        self.checks: list[dict] = []

    def training_step(self, batch: Batch, step: TrainStep) -> dict[str, torch.Tensor]:
        b_before = [p.detach().clone() for p in self.b.parameters()]
        a_loss = self.a(batch.x).pow(2).mean()
        step.update(a_loss, "a")
        b_after_a = [p.detach().clone() for p in self.b.parameters()]
        a_after_a = [p.detach().clone() for p in self.a.parameters()]
        b_loss = F.mse_loss(self.b(self.a(batch.x)).squeeze(-1), batch.y)  # reaches a's parameters too
        step.update(b_loss, "b")
        self.checks.append({
            "b unchanged by a": all(torch.equal(p, q) for p, q in zip(b_before, b_after_a)),
            "a unchanged by b": all(torch.equal(p, q) for p, q in zip(a_after_a, self.a.parameters())),
            "b changed by b": not all(torch.equal(p, q) for p, q in zip(b_after_a, self.b.parameters())),
            "order": list(step.updates),
        })
        return {"a_loss": a_loss.detach(), "b_loss": b_loss.detach()}


def regression_data(n: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=generator)
    y = x @ torch.tensor([1.5, -2.0, 0.5]) + 0.3 + 0.1 * torch.randn(n, generator=generator)
    return x, y


def make_trainer(model=None, *, lr=0.05, **kwargs) -> Trainer:
    model = model if model is not None else LinearRegression()
    kwargs.setdefault("progress", False)
    return Trainer(model, torch.optim.Adam(model.parameters(), lr=lr), device="cpu", **kwargs)


# ---------------------------------------------------------------------------------------------
# Learning
# ---------------------------------------------------------------------------------------------
def test_training_reaches_the_least_squares_optimum():
    torch.manual_seed(0)
    x, y = regression_data(256)
    design = torch.cat([x, torch.ones(len(x), 1)], dim=1)  # (N, 4): a column of ones for the bias
    solution = torch.linalg.lstsq(design, y.unsqueeze(1)).solution.squeeze(1)  # (4,)
    best_mse = F.mse_loss(design @ solution, y).item()
    model = LinearRegression()
    trainer = make_trainer(model, lr=0.05)
    start_mse = F.mse_loss(model.linear(x).squeeze(-1), y).item()
    trainer.fit(InMemoryLoader(x, y, batch_size=32, seed=1), epochs=40)
    with torch.no_grad():
        final_mse = F.mse_loss(model.linear(x).squeeze(-1), y).item()
        fitted = torch.cat([model.linear.weight.squeeze(0), model.linear.bias])
    assert start_mse > 10 * best_mse
    assert final_mse <= best_mse * 1.02
    torch.testing.assert_close(fitted, solution, atol=0.02, rtol=0.0)


def test_overfits_a_fixed_batch():
    torch.manual_seed(0)
    x, y = torch.randn(16, 3), torch.randn(16)

    class Mlp(LinearRegression):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Sequential(nn.Linear(3, 64), nn.Tanh(), nn.Linear(64, 1))

    trainer = make_trainer(Mlp(), lr=0.01)
    history = trainer.fit(InMemoryLoader(x, y, batch_size=16, shuffle=False), steps=500)
    _, losses = history.series("loss")
    assert losses[-1] < 1e-3 * losses[0]


def test_two_optimizers_update_in_order_and_each_changes_only_its_own_parameters():
    torch.manual_seed(0)
    model = TwoPart()
    optimizers = {"a": torch.optim.SGD(model.a.parameters(), lr=0.1), "b": torch.optim.SGD(model.b.parameters(), lr=0.1)}
    trainer = Trainer(model, optimizers, device="cpu", progress=False)
    x, y = regression_data(32)
    history = trainer.fit(InMemoryLoader(x, y, batch_size=8), steps=6)
    assert len(model.checks) == 6
    for check in model.checks:
        assert check == {"b unchanged by a": True, "a unchanged by b": True, "b changed by b": True, "order": ["a", "b"]}
    assert history.names == ["a_loss", "b_loss"]


# ---------------------------------------------------------------------------------------------
# History, evaluation, hooks, progress
# ---------------------------------------------------------------------------------------------
class StepCounter(LinearRegression):
    """Also logs the number of the step, so the logged means can be computed by hand."""

    def training_step(self, batch, step):
        logs = super().training_step(batch, step)
        return {**logs, "step": torch.tensor(float(step.global_step))}


def test_history_logs_means_since_the_last_log_at_log_every_and_epoch_ends():
    x, y = regression_data(16)  # 4 batches of 4 per epoch
    trainer = make_trainer(StepCounter(), log_every=3)
    history = trainer.fit(InMemoryLoader(x, y, batch_size=4), epochs=2)
    steps, values = history.series("step")
    # logs at steps 3, 6 (log_every) and 4, 8 (epoch ends); steps numbered 0..7 before they run
    assert steps == [3, 4, 6, 8]
    assert values == [1.0, 3.0, 4.5, 6.5]  # mean(0,1,2), mean(3), mean(4,5), mean(6,7)
    assert history.series("loss")[0] == [3, 4, 6, 8]
    assert trainer.global_step == 8


def test_history_state_dict_round_trips_and_names_missing_series():
    history = History()
    history.log("loss", 10, 0.5)
    history.log("loss", 20, 0.25)
    history.log("eval/loss", 20, 0.3)
    copy = History()
    copy.load_state_dict(history.state_dict())
    assert copy.series("loss") == ([10, 20], [0.5, 0.25])
    assert copy.names == ["loss", "eval/loss"] and copy.last("eval/loss") == 0.3
    with pytest.raises(KeyError, match="logged series"):
        copy.series("nope")


class MeanOfInputs(LinearRegression):
    def evaluation_step(self, batch):
        assert not torch.is_grad_enabled() and not self.training
        return {"mean_x": batch.x.mean(), "loss": super().evaluation_step(batch)["loss"]}


def test_evaluation_weights_batches_by_size_with_an_uneven_last_batch():
    x = torch.arange(10.0).unsqueeze(1).repeat(1, 3)  # examples 0..9; batches of 4, 4, 2
    y = torch.zeros(10)
    model = MeanOfInputs()
    trainer = make_trainer(model)
    metrics = trainer.evaluate(InMemoryLoader(x, y, batch_size=4, shuffle=False))
    assert metrics["mean_x"] == pytest.approx(4.5)  # an unweighted mean of batch means would give 5.0
    with torch.no_grad():
        expected = F.mse_loss(model.linear(x).squeeze(-1), y).item()
    assert metrics["loss"] == pytest.approx(expected, rel=1e-5)
    assert model.training


def test_fit_logs_evaluation_each_epoch_or_every_n_steps():
    x, y = regression_data(16)
    loader, eval_loader = InMemoryLoader(x, y, batch_size=4), InMemoryLoader(x[:10], y[:10], batch_size=4)
    history = make_trainer(MeanOfInputs()).fit(loader, epochs=2, eval_loader=eval_loader)
    assert history.series("eval/mean_x")[0] == [4, 8]
    assert history.last("eval/mean_x") == pytest.approx(x[:10].mean().item(), rel=1e-5)
    history = make_trainer(MeanOfInputs()).fit(loader, epochs=2, eval_loader=eval_loader, eval_every=3)
    assert history.series("eval/loss")[0] == [3, 6]


def test_hooks_are_called_at_their_points_and_do_not_change_training():
    events = []

    class Recorder(Hook):
        def on_fit_start(self, trainer):
            events.append(("start", trainer.global_step))

        def on_epoch_end(self, trainer, epoch):
            events.append(("epoch", epoch, trainer.global_step))
            trainer.model.eval()  # e.g. drawing samples; the trainer puts the model back in training mode

        def on_fit_end(self, trainer):
            events.append(("end", trainer.global_step))

    def noisy_sample_grid(trainer):
        events.append(("every 3", trainer.global_step))
        torch.randn(100)  # draws from the global generator, as a sample grid would

    x, y = regression_data(16)
    runs = []
    for hooks in ([], [Recorder(), every_n_steps(3, noisy_sample_grid)]):
        torch.manual_seed(0)
        model = LinearRegression(noise=0.1)
        make_trainer(model, hooks=hooks).fit(InMemoryLoader(x, y, batch_size=4), epochs=2)
        runs.append(model)
    assert events == [("start", 0), ("every 3", 3), ("epoch", 0, 4), ("every 3", 6), ("epoch", 1, 8), ("end", 8)]
    assert all(torch.equal(p, q) for p, q in zip(runs[0].parameters(), runs[1].parameters()))
    assert runs[1].training


def test_progress_false_prints_nothing(capsys):
    x, y = regression_data(16)
    make_trainer(progress=False).fit(InMemoryLoader(x, y, batch_size=4), epochs=2)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_progress_bar_goes_to_stdout_and_ends_with_the_last_losses(capsys):
    x, y = regression_data(16)
    trainer = make_trainer(progress=True)
    history = trainer.fit(InMemoryLoader(x, y, batch_size=4), epochs=2)
    captured = capsys.readouterr()
    assert captured.err == ""
    final_line = captured.out.strip().split("\r")[-1]
    assert "epoch 2/2" in final_line and "8/8" in final_line
    assert f"loss={history.last('loss'):.4g}" in final_line


def test_mixed_precision_on_cpu_runs_under_bf16_autocast():
    seen = []

    class Probe(LinearRegression):
        def training_step(self, batch, step):
            with step.autocast():
                seen.append((batch.x @ batch.x.T).dtype)
            return super().training_step(batch, step)

    x, y = regression_data(16)
    trainer = make_trainer(Probe(), mixed_precision=True)
    assert trainer.precision.dtype == torch.bfloat16 and not trainer.precision.use_scaler
    assert trainer.scalers == {}
    history = trainer.fit(InMemoryLoader(x, y, batch_size=4), epochs=1)
    assert seen and all(dtype == torch.bfloat16 for dtype in seen)
    assert math.isfinite(history.last("loss"))
    assert make_trainer().precision.dtype is None  # full precision on the CPU by default


def test_grad_clip_bounds_the_update():
    torch.manual_seed(0)
    x, y = regression_data(8)
    y = y * 1000  # huge gradients
    model = LinearRegression()
    before = [p.detach().clone() for p in model.parameters()]
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=1.0), device="cpu", grad_clip=0.5, progress=False)
    trainer.fit(InMemoryLoader(x, y, batch_size=8), steps=1)
    change = torch.cat([(p - q).flatten() for p, q in zip(model.parameters(), before)])
    assert change.norm().item() == pytest.approx(0.5, rel=1e-4)  # SGD with lr 1: step = clipped gradient


def test_grad_scaler_is_unscaled_before_clipping(monkeypatch):
    # fp16 with a GradScaler is what CUDA GPUs without bf16 get; force that path on the CPU
    monkeypatch.setattr(trainer_module, "pick_precision", lambda device, mixed: Precision(torch.bfloat16, True))
    torch.manual_seed(0)
    x, y = regression_data(8)
    y = y * 1000
    model = LinearRegression()
    before = [p.detach().clone() for p in model.parameters()]
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=1.0), device="cpu", grad_clip=0.5, progress=False)
    assert set(trainer.scalers) == {"model"}
    trainer.fit(InMemoryLoader(x, y, batch_size=8), steps=1)
    change = torch.cat([(p - q).flatten() for p, q in zip(model.parameters(), before)])
    # clipping the scaled gradients instead would leave a step of 0.5 / 65536
    assert change.norm().item() == pytest.approx(0.5, rel=1e-3)
    assert "scalers" in trainer.state_dict() and "model" in trainer.state_dict()["scalers"]


# ---------------------------------------------------------------------------------------------
# Checkpoints and resuming
# ---------------------------------------------------------------------------------------------
class Crash(Exception):
    pass


def crash_at(step: int) -> Hook:
    def crash(trainer):
        raise Crash(f"simulated crash after step {step}")

    return every_n_steps(step, crash)


@pytest.mark.parametrize("noise", [0.0, 0.3], ids=["deterministic", "noise-in-training-step"])
def test_resume_after_interruption_equals_uninterrupted_run(tmp_path, noise):
    x, y = regression_data(20)
    loader = InMemoryLoader(x, y, batch_size=6, seed=3)  # 4 batches per epoch, the last one short

    torch.manual_seed(0)
    straight = LinearRegression(noise=noise)
    straight_trainer = make_trainer(straight, log_every=2)
    straight_trainer.fit(loader, epochs=4)

    torch.manual_seed(0)
    interrupted = LinearRegression(noise=noise)
    path = tmp_path / "run.pt"
    trainer = make_trainer(interrupted, log_every=2, checkpoint_path=path, checkpoint_every=5, hooks=[crash_at(7)])
    with pytest.raises(Crash):
        trainer.fit(loader, epochs=4)
    assert load_checkpoint(path)["global_step"] == 5  # mid-epoch: epoch 1, batch 1

    torch.manual_seed(123)  # a fresh process: other weights, other random state
    resumed = LinearRegression(noise=noise)
    resumed_trainer = make_trainer(resumed, log_every=2, checkpoint_path=path, checkpoint_every=5)
    resumed_trainer.load_checkpoint(path)
    assert resumed_trainer.global_step == 5
    resumed_trainer.fit(loader, epochs=4)

    assert resumed_trainer.global_step == straight_trainer.global_step == 16
    for p, q in zip(straight.parameters(), resumed.parameters()):
        assert torch.equal(p, q)
    straight_state = straight_trainer.optimizers["model"].state_dict()["state"]
    resumed_state = resumed_trainer.optimizers["model"].state_dict()["state"]
    for index in straight_state:
        for key in straight_state[index]:
            assert torch.equal(straight_state[index][key], resumed_state[index][key])
    assert resumed_trainer.history.series("loss") == straight_trainer.history.series("loss")


def test_checkpoint_holds_the_whole_trainer_state_and_loads_weights_only(tmp_path):
    x, y = regression_data(16)
    trainer = make_trainer(checkpoint_path=tmp_path / "run.pt")
    trainer.fit(InMemoryLoader(x, y, batch_size=4), steps=6)
    state = load_checkpoint(tmp_path / "run.pt")  # weights_only=True inside
    assert state["global_step"] == 6 and state["epoch"] == 1 and state["steps_per_epoch"] == 4
    assert set(state) >= {"model", "optimizers", "scalers", "history", "rng", "settings", "format_version"}
    assert state["history"]["loss"]["steps"] == [4, 6]
    assert state["settings"]["precision"] == "fp32" and state["settings"]["device"] == "cpu"
    assert torch.equal(state["model"]["linear.weight"], trainer.model.linear.weight)


def test_fit_to_an_already_reached_target_does_nothing(tmp_path, capsys):
    x, y = regression_data(16)
    loader = InMemoryLoader(x, y, batch_size=4)
    trainer = make_trainer(checkpoint_path=tmp_path / "run.pt")
    trainer.fit(loader, epochs=2)
    resumed = make_trainer(progress=True)
    resumed.load_checkpoint(tmp_path / "run.pt")
    weights = [p.detach().clone() for p in resumed.model.parameters()]
    resumed.fit(loader, epochs=2)
    resumed.fit(loader, steps=5)
    assert resumed.global_step == 8
    assert all(torch.equal(p, q) for p, q in zip(weights, resumed.model.parameters()))
    assert capsys.readouterr().out == ""


class DivergesAt(LinearRegression):
    def __init__(self, step: int) -> None:
        super().__init__()
        self.diverge_step = step

    def training_step(self, batch, step):
        logs = super().training_step(batch, step)
        if step.global_step >= self.diverge_step:
            return {"loss": logs["loss"] * float("nan")}
        return logs


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    x, y = regression_data(32)
    path = tmp_path / "run.pt"
    # checkpoints due at steps 3 and 6; the loss turns NaN in step 5 (numbered 4 before it runs)
    trainer = make_trainer(DivergesAt(4), log_every=50, checkpoint_path=path, checkpoint_every=3)
    with pytest.raises(NonFiniteLossError, match=r"'loss' became nan at step 5 .*steps 1-6") as error:
        trainer.fit(InMemoryLoader(x, y, batch_size=4), epochs=2)
    assert str(path) in str(error.value)
    assert trainer.global_step == 6
    state = load_checkpoint(path)
    assert state["global_step"] == 3
    assert all(torch.isfinite(value).all() for value in state["model"].values())


def test_non_finite_loss_without_checkpointing_says_so():
    x, y = regression_data(16)
    with pytest.raises(NonFiniteLossError, match="Checkpointing is off"):
        make_trainer(DivergesAt(0)).fit(InMemoryLoader(x, y, batch_size=4), epochs=1)


def test_weights_that_went_nan_with_finite_losses_are_not_checkpointed(tmp_path):
    # A NaN learning rate: the loss of step 1 was computed before the update, so it is finite,
    # but the weights after it are not. Before, this state was saved as "the last good checkpoint".
    x, y = regression_data(16)
    model = LinearRegression()
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=float("nan")), device="cpu",
                      progress=False, checkpoint_path=None)
    trainer.fit(InMemoryLoader(x, y, batch_size=4), steps=1)
    assert math.isfinite(trainer.history.last("loss"))
    with pytest.raises(NonFiniteStateError, match=r"model 'linear.weight' \(and 1 more\) holds NaN or infinity "
                                                  r"at step 1, though the logged losses were finite"):
        trainer.save_checkpoint(tmp_path / "run.pt")
    assert not (tmp_path / "run.pt").exists()


def test_a_non_finite_optimizer_state_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    class PoisonAdamAt(Hook):
        """Sets Adam's second moment of the weight to infinity after step 4. The weight stays
        finite (Adam divides by the root of infinity: a zero step), and so do the losses."""

        def on_step_end(self, trainer):
            if trainer.global_step == 4:
                optimizer = trainer.optimizers["model"]
                optimizer.state[trainer.model.linear.weight]["exp_avg_sq"].fill_(float("inf"))

    x, y = regression_data(32)
    path = tmp_path / "run.pt"
    trainer = make_trainer(checkpoint_path=path, checkpoint_every=3, log_every=1, hooks=[PoisonAdamAt()])
    with pytest.raises(NonFiniteStateError, match=r"optimizer 'model' state 'exp_avg_sq' of 'linear.weight' "
                                                  r"holds NaN or infinity at step 6") as error:
        trainer.fit(InMemoryLoader(x, y, batch_size=4), epochs=2)
    assert f"The last good checkpoint (step 3) is kept at {path}" in str(error.value)
    assert all(math.isfinite(v) for v in trainer.history.series("loss")[1])
    assert isinstance(error.value, NonFiniteLossError)  # caught by whoever catches divergence
    state = load_checkpoint(path)
    assert state["global_step"] == 3
    assert torch.isfinite(state["optimizers"]["model"]["state"][0]["exp_avg_sq"]).all()


class NaNEvaluation(LinearRegression):
    def evaluation_step(self, batch):
        return {"loss": super().evaluation_step(batch)["loss"], "ratio": torch.tensor(0.0) / 0.0}


def test_an_evaluation_that_gives_nan_is_an_error_not_a_logged_value():
    x, y = regression_data(16)
    trainer = make_trainer(NaNEvaluation())
    with pytest.raises(NonFiniteLossError, match=r"evaluation at step 0 gave 'ratio' = nan over 16 examples"):
        trainer.evaluate(InMemoryLoader(x, y, batch_size=4))
    with pytest.raises(NonFiniteLossError, match=r"evaluation at step 4 gave 'ratio' = nan"):
        trainer.fit(InMemoryLoader(x, y, batch_size=4), epochs=1, eval_loader=InMemoryLoader(x, y, batch_size=4))
    assert "eval/ratio" not in trainer.history.names


def test_a_checkpoint_without_its_sections_names_the_file_and_what_it_holds(tmp_path):
    from gentut.checkpoint import CheckpointError, save_checkpoint

    # the probe's case: a classifier cache file handed to a trainer (was a bare KeyError: 'optimizers')
    path = save_checkpoint(tmp_path / "classifier.pt", {"model": {}, "metadata": {"version": 2}})
    with pytest.raises(CheckpointError, match=rf"{path} lacks the trainer checkpoint sections 'optimizers', "
                                              r"'scalers', .*; it holds 'format_version', 'metadata', 'model'"):
        make_trainer().load_checkpoint(path)
    trainer = make_trainer(checkpoint_path=tmp_path / "run.pt")
    trainer.fit(InMemoryLoader(*regression_data(8), batch_size=4), steps=2)
    state = trainer.state_dict()
    del state["history"]
    with pytest.raises(CheckpointError, match=r"the trainer state lacks the trainer checkpoint section 'history'"):
        make_trainer().load_state_dict(state)


# ---------------------------------------------------------------------------------------------
# Construction and bad inputs
# ---------------------------------------------------------------------------------------------
def test_optimizer_built_before_the_move_keeps_updating_the_model():
    model = LinearRegression()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.to(torch.float64)  # .to() converts parameters in place, as a move to another device does
    assert all(p is q for p, q in zip(optimizer.param_groups[0]["params"], model.parameters()))
    trainer = Trainer(model.float(), optimizer, device="cpu", progress=False)
    before = model.linear.weight.detach().clone()
    x, y = regression_data(8)
    trainer.fit(InMemoryLoader(x, y, batch_size=8), steps=1)
    assert not torch.equal(before, model.linear.weight)


def test_optimizer_over_another_models_parameters_is_rejected():
    model, other = LinearRegression(), LinearRegression()
    with pytest.raises(ValueError, match="optimizer 'model' holds a parameter"):
        Trainer(model, torch.optim.SGD(other.parameters(), lr=0.1), device="cpu")


def test_model_without_training_step_raises_type_error_explaining_the_contract():
    model = nn.Linear(3, 1)
    with pytest.raises(TypeError, match=r"training_step\(batch, step\).*step.update"):
        Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), device="cpu")


@pytest.mark.parametrize("kwargs", [{}, {"epochs": 1, "steps": 4}], ids=["neither", "both"])
def test_fit_needs_exactly_one_of_epochs_or_steps(kwargs):
    x, y = regression_data(8)
    with pytest.raises(ValueError, match="exactly one of epochs or steps"):
        make_trainer().fit(InMemoryLoader(x, y, batch_size=4), **kwargs)


def test_training_step_returning_a_non_dict_raises_type_error():
    class ReturnsLoss(LinearRegression):
        def training_step(self, batch, step):
            return super().training_step(batch, step)["loss"]

    x, y = regression_data(8)
    with pytest.raises(TypeError, match="must return a dict"):
        make_trainer(ReturnsLoss()).fit(InMemoryLoader(x, y, batch_size=4), steps=1)


def test_update_with_an_unknown_name_lists_the_known_ones():
    class WrongName(LinearRegression):
        def training_step(self, batch, step):
            step.update(self.linear(batch.x).mean(), "generator")

    x, y = regression_data(8)
    with pytest.raises(KeyError, match=r"'generator'.*\['model'\]"):
        make_trainer(WrongName()).fit(InMemoryLoader(x, y, batch_size=4), steps=1)


def test_bad_settings_are_rejected_with_what_was_expected():
    with pytest.raises(ValueError, match="log_every must be a positive int, got 0"):
        make_trainer(log_every=0)
    with pytest.raises(ValueError, match="checkpoint_every was given without checkpoint_path"):
        make_trainer(checkpoint_every=10)
    with pytest.raises(TypeError, match="loader must have len"):
        make_trainer().fit([Batch(torch.zeros(2, 3), torch.zeros(2))], epochs=1)


class _TinyAutoencoder(nn.Module):
    """Reconstructs images through a 4-number code; enough to check the plumbing."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(16, 4), nn.Linear(4, 16), nn.Unflatten(1, (1, 4, 4)))

    def training_step(self, batch, step):
        with step.autocast():
            loss = ((torch.sigmoid(self.net(batch.x)) - batch.x) ** 2).mean()
        step.update(loss)
        return {"loss": loss.detach()}

    def evaluation_step(self, batch):
        return {"loss": ((torch.sigmoid(self.net(batch.x)) - batch.x) ** 2).mean()}


def test_fit_trains_on_a_plain_tensor_of_images_in_one_call():
    torch.manual_seed(0)
    images = torch.rand(40, 1, 4, 4)
    model = _TinyAutoencoder()
    trainer = Trainer(model, torch.optim.Adam(model.parameters(), lr=1e-2), device="cpu", progress=False)
    history = trainer.fit(images, epochs=3, batch_size=16, eval_loader=images[:8])
    assert trainer.global_step == 3 * 3  # ceil(40 / 16) batches per epoch
    assert "eval/loss" in history.names


def test_fit_checks_a_plain_tensor_like_the_built_in_data():
    model = _TinyAutoencoder()
    trainer = Trainer(model, torch.optim.Adam(model.parameters()), device="cpu", progress=False)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        trainer.fit(torch.rand(8, 1, 4, 4) * 255, epochs=1)
    with pytest.raises((TypeError, ValueError), match="uint8|float"):
        trainer.fit(torch.zeros(8, 1, 4, 4, dtype=torch.uint8), epochs=1)


# ---------------------------------------------------------------------------------------------
# LinearDecay
# ---------------------------------------------------------------------------------------------
def test_linear_decay_lowers_the_rate_linearly_to_the_final_fraction_and_holds_it():
    from gentut.hooks import LinearDecay

    seen = []
    x, y = regression_data(16)
    trainer = make_trainer(lr=0.1, hooks=[LinearDecay(8, final=0.2),
                                          every_n_steps(1, lambda t: seen.append(t.optimizers["model"].param_groups[0]["lr"]))])
    trainer.fit(InMemoryLoader(x, y, batch_size=4), steps=12)
    # after step s the rate is 0.1 * (1 - 0.8 * s / 8), down to 0.02 at step 8, then flat
    expected = [0.1 * (1 - 0.8 * min(s, 8) / 8) for s in range(1, 13)]
    assert seen == pytest.approx(expected)


def test_linear_decay_resumes_on_the_same_schedule(tmp_path):
    from gentut.hooks import LinearDecay

    x, y = regression_data(20)
    loader = InMemoryLoader(x, y, batch_size=5, seed=1)
    torch.manual_seed(0)
    straight = LinearRegression()
    make_trainer(straight, lr=0.1, hooks=[LinearDecay(12, final=0.1)]).fit(loader, steps=12)

    torch.manual_seed(0)
    interrupted = LinearRegression()
    path = tmp_path / "run.pt"
    trainer = make_trainer(interrupted, lr=0.1, checkpoint_path=path, checkpoint_every=5,
                           hooks=[LinearDecay(12, final=0.1), crash_at(6)])
    with pytest.raises(Crash):
        trainer.fit(loader, steps=12)
    resumed = LinearRegression()
    # the new optimizer starts at lr 0.1 again: the schedule must come from the checkpoint's
    # initial_lr and the step, not from this optimizer's current rate
    resumed_trainer = make_trainer(resumed, lr=0.1, hooks=[LinearDecay(12, final=0.1)])
    resumed_trainer.load_checkpoint(path)
    resumed_trainer.fit(loader, steps=12)
    for p, q in zip(straight.parameters(), resumed.parameters()):
        assert torch.equal(p, q)


@pytest.mark.parametrize("kwargs, message", [
    (dict(total_steps=0), "total_steps must be a positive int, got 0"),
    (dict(total_steps=10, final=1.5), r"final must be a fraction in \[0, 1\] of the initial rate, got 1.5"),
])
def test_linear_decay_rejects_bad_settings(kwargs, message):
    from gentut.hooks import LinearDecay

    with pytest.raises(ValueError, match=message):
        LinearDecay(**kwargs)
