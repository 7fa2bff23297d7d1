"""The WGAN-GP: critic contract, the gradient penalty, the update schedule, and use as a prior."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genprior.methods.projection import project_to_range
from genprior.models import WGAN, ModelConfig, create_model, load_model, save_checkpoint
from genprior.training.loop import TrainConfig, train
from genprior.training.recipes import recipe


def gan(**kw) -> WGAN:
    torch.manual_seed(0)
    return create_model("gan", latent_dim=4, image_size=16, **kw)


def test_generator_and_critic_shapes_and_no_encoder():
    g = gan()
    assert g(torch.randn(5, 4)).shape == (5, 1, 16, 16)
    assert g.critic(torch.rand(5, 1, 16, 16)).shape == (5,)
    assert not hasattr(g, "encode")
    assert g.default_betas == (0.0, 0.9) and g.config.gp_weight == 10.0 and g.config.critic_steps == 5
    assert [(p.name, p.repeats, p.uses_data) for p in g.phases()] == [("critic", 5, True), ("generator", 1, False)]
    groups = g.parameter_groups()
    assert {id(p) for p in groups["critic"]} == {id(p) for p in g.critic_net.parameters()}
    assert {id(p) for p in groups["generator"]} == {id(p) for p in g.decoder.parameters()}


def test_paper_critic_is_the_encoder_with_one_output():
    with torch.device("meta"):
        g = create_model("gan", preset="paper", latent_dim=8, image_size=28)
        assert g.critic(torch.rand(2, 1, 28, 28)).shape == (2,)
    assert g.critic_net[-1].out_features == 1 and g.critic_net[-1].in_features == 64 * 7 * 7


def test_gradient_penalty_of_a_linear_critic():
    """For D(x) = <w, x> the input gradient is w everywhere, so gp = (||w|| - 1)^2 and the
    critic loss -(E D(real) - E D(fake)) + 3 gp has the weight gradient
    -(mean(real) - mean(fake)) + 6 (||w|| - 1) w / ||w|| (the penalty acts by double backward)."""
    g = gan(gp_weight=3.0)
    w = torch.randn(16 * 16, generator=torch.Generator().manual_seed(1))
    g.critic_net = nn.Sequential(nn.Flatten(), nn.Linear(256, 1, bias=False))
    with torch.no_grad():
        g.critic_net[1].weight.copy_(w[None])
    real = torch.rand(6, 1, 16, 16)
    torch.manual_seed(5)
    loss, logs = g.objective("critic", real, 6)
    torch.manual_seed(5)
    with torch.no_grad():
        fake = g.decoder(torch.randn(6, 4))  # the same codes the objective drew
    assert torch.isclose(logs["gp"], (w.norm() - 1) ** 2, rtol=1e-5)
    assert torch.isclose(loss, -logs["wasserstein"] + 3.0 * logs["gp"], rtol=1e-5)
    loss.backward()
    expected = -(real.mean(0) - fake.mean(0)).flatten() + 6 * (w.norm() - 1) * w / w.norm()
    torch.testing.assert_close(g.critic_net[1].weight.grad[0], expected, rtol=1e-4, atol=1e-5)


def test_generator_phase_uses_noise_only():
    g = gan()
    loss, logs = g.objective("generator", None, 7)
    assert loss.ndim == 0 and set(logs) == {"generator"}
    loss.backward()
    assert all(p.grad is not None for p in g.decoder.parameters())
    with pytest.raises(ValueError, match="unknown GAN training phase"):
        g.objective("encoder", None, 1)


def test_config_refuses_settings_of_other_kinds():
    with pytest.raises(ValueError, match="kl_weight does not apply to a GAN"):
        ModelConfig(kind="gan", kl_weight=0.1)
    with pytest.raises(ValueError, match="gp_weight does not apply to a VAE"):
        ModelConfig(kind="vae", gp_weight=1.0)
    with pytest.raises(ValueError, match=r"critic_steps must be >= 1 \(an integer\)"):
        ModelConfig(kind="gan", critic_steps=0)
    with pytest.raises(ValueError, match="WGAN needs a config with GANSettings .* of kind 'ae'"):
        WGAN(ModelConfig(kind="ae"))


def test_checkpoint_and_criterion_a1_with_random_restarts(tmp_path):
    g = gan()
    save_checkpoint(g, tmp_path / "gan")
    loaded = load_model(tmp_path / "gan")
    x = torch.rand(3, 1, 16, 16)
    assert torch.equal(loaded.critic(x), g.eval().critic(x))
    target = loaded(torch.randn(3, 4, generator=torch.Generator().manual_seed(2))).detach()
    result = project_to_range(loaded, target, init="random", restarts=4, max_iter=100)
    nrmse = (result.x - target).flatten(1).norm(dim=1) / target.flatten(1).norm(dim=1)
    assert result.params["restarts"] == 4 and (nrmse < 0.05).all()
    with pytest.raises(ValueError, match="needs a model with an encoder"):
        project_to_range(loaded, target, init="encoder")
    prior = -loaded.critic(loaded(torch.zeros(2, 4)))  # R_Z(z) = -D(G(z)) is differentiable in z
    assert prior.shape == (2,)


def test_compact_recipe_is_faster_than_the_papers_and_keeps_its_loss():
    for dataset, steps in (("mnist", 12_000), ("shapes", 2_500)):
        r = recipe("gan", dataset, "compact")
        assert (r.lr, r.model["critic_steps"], r.betas, r.batch_size, r.schedule, r.steps) == (
            1e-3, 2, (0.0, 0.9), 50, "constant", steps)
        assert (r.model["generator_ema"], r.model["generator_output"]) == (0.999, "sigmoid")
        p = recipe("gan", dataset, "paper")  # the authors' WGAN-GP, unchanged
        assert (p.lr, p.model, p.betas, p.batch_size, p.steps) == (1e-4, {"critic_steps": 5}, (0.0, 0.9), 50, 25_000)
    assert ModelConfig(kind="gan").gp_weight == 10.0 and ModelConfig(kind="gan").critic_steps == 5  # old configs
    for kind in ("ae", "vae"):
        assert "critic_steps" not in recipe(kind, "mnist", "compact").model


def _sliced_w2(a: torch.Tensor, b: torch.Tensor, k: int = 256) -> float:
    """Sliced squared 2-Wasserstein distance (times the dimension) of two equal-size image sets."""
    a, b = a.flatten(1), b.flatten(1)
    dirs = torch.randn(a.shape[1], k, generator=torch.Generator().manual_seed(3))
    dirs /= dirs.norm(dim=0)
    pa, pb = (a @ dirs).sort(dim=0).values, (b @ dirs).sort(dim=0).values
    return float((pa - pb).pow(2).mean() * a.shape[1])


def test_a_short_compact_gan_training_moves_the_samples_to_the_data(tmp_path):
    """150 steps of the compact recipe (Adam 1e-3, two critic steps) on 16x16 images of a
    0.5-intensity square at random places: the samples' sliced Wasserstein distance to the
    data falls by more than half, and their mean norm comes within 1.0 of the data's (3.0)
    (measured: 6.2 -> 1.9 and a norm gap of 2.3 -> 0.6)."""
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(256, 1, 16, 16)
    for i, (r0, c0) in enumerate(torch.randint(0, 10, (256, 2), generator=g).tolist()):
        x[i, 0, r0:r0 + 6, c0:c0 + 6] = 0.5
    r = recipe("gan", "shapes", "compact")
    model = gan(critic_steps=r.model["critic_steps"])

    def distances() -> tuple[float, float]:
        with torch.no_grad():
            s = model.eval().sample(256, torch.Generator().manual_seed(1))
        norm_gap = abs(float(s.flatten(1).norm(dim=1).mean() - x.flatten(1).norm(dim=1).mean()))
        return _sliced_w2(s, x), norm_gap

    sw_before, gap_before = distances()
    train(model, x, tmp_path, TrainConfig(steps=150, batch_size=16, lr=r.lr, betas=r.betas, log_every=50,
                                          sample_every=None), progress=False)
    sw_after, gap_after = distances()
    assert sw_after < 0.5 * sw_before and gap_before > 2.0 and gap_after < 1.0


def test_generator_average_follows_the_ema_rule_and_is_the_generator_after_training(tmp_path):
    """With ``generator_ema = beta`` the average after generator update t is
    ``b_t avg + (1 - b_t) w``, ``b_t = min(beta, (1 + t) / (10 + t))``; evaluation mode
    generates with it, training mode with the trained weights; a checkpoint keeps it."""
    model = gan(generator_ema=0.9, critic_steps=1)
    avg = [p.detach().clone() for p in model.decoder.parameters()]
    x = torch.rand(64, 1, 16, 16)
    opt = torch.optim.SGD(model.decoder.parameters(), lr=0.1)
    for t in (1, 2, 3):
        loss, _ = model.generator_loss(8)
        opt.zero_grad()
        loss.backward()
        opt.step()
        model.after_update("generator")
        b = min(0.9, (1 + t) / (10 + t))
        avg = [b * a + (1 - b) * w.detach() for a, w in zip(avg, model.decoder.parameters())]
    model.after_update("critic")  # critic updates leave the average alone
    for a, p in zip(avg, model.generator_average.parameters()):
        torch.testing.assert_close(p, a)
    assert int(model.average_updates) == 3
    z = torch.randn(4, 4)
    with torch.no_grad():
        assert torch.equal(model.eval()(z), model.generator_average(z))
        assert torch.equal(model.train()(z), model.decoder(z))
        assert not torch.equal(model.generator_average(z), model.decoder(z))
    save_checkpoint(model, tmp_path / "gan")
    loaded = load_model(tmp_path / "gan")
    assert loaded.config.generator_ema == 0.9
    with torch.no_grad():
        assert torch.equal(loaded(z), model.eval()(z))
    train(model := gan(generator_ema=0.9, critic_steps=1), x, tmp_path / "run",
          TrainConfig(steps=5, batch_size=8, log_every=5, sample_every=None), progress=False)
    assert int(model.average_updates) == 5  # the loop calls after_update once per generator step


def test_compact_widths_and_old_configs():
    g = gan(width=8, critic_width=32)
    assert g.critic_net[0].out_channels == 32 and g.decoder[-1].in_channels == 8
    assert gan(width=8).config.critic_width == 8  # the critic follows the generator by default
    assert gan().config.to_dict() == {  # an older config.json reads back unchanged
        "kind": "gan", "preset": "compact", "latent_dim": 4, "image_size": 16, "gp_weight": 10.0, "critic_steps": 5}
    assert gan(width=8, generator_ema=0.99).config.to_dict()["width"] == 8
    with pytest.raises(ValueError, match="compact preset's nets"):
        ModelConfig(kind="gan", preset="paper", image_size=28, critic_width=32)
    with pytest.raises(ValueError, match="critic_width does not apply to a VAE"):
        ModelConfig(kind="vae", critic_width=32)
    with pytest.raises(ValueError, match=r"generator_ema must be a number in \[0, 1\)"):
        ModelConfig(kind="gan", generator_ema=1.0)


def test_sigmoid_generator_output_keeps_samples_in_the_unit_interval(tmp_path):
    g = gan(generator_output="sigmoid", generator_ema=0.5)
    with torch.no_grad():
        g.decoder[-2].bias.fill_(50.0)  # the last convolution: a linear output would reach about 50
        x = g.train()(torch.randn(6, 4))
    assert isinstance(g.decoder[-1], nn.Sigmoid) and (x > 0).all() and (x <= 1).all()
    save_checkpoint(g, tmp_path / "gan")
    assert load_model(tmp_path / "gan").config.generator_output == "sigmoid"
    assert gan().config.generator_output == "linear"
    with pytest.raises(ValueError, match="unknown generator output .tanh.; choose one of: linear, sigmoid"):
        ModelConfig(kind="gan", generator_output="tanh")
