"""Extending genprior from a package of one's own: each try is one new file plus one entry point.

The package (written to a temporary folder, laid out as ``pip install`` leaves it) adds
a problem and a method (a Landweber iteration), a model kind that subclasses genprior's
autoencoder, and a paper-style table comparing AE, VAE and that kind, with no GAN.
genprior finds them through the entry-point groups of its registries
(:mod:`genprior.registry`); the command line then lists, runs and trains them.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from outside_package import genprior_beside, outside_package

SHIFT = '''
    """A circular shift: the toy operator, with its option."""
    from dataclasses import dataclass

    import torch

    from genprior.params import param
    from genprior.physics.operator import LinearOperator
    from genprior.physics.options import ProblemOptions


    class Shift(LinearOperator):
        """``A x = x`` shifted circularly by ``shift`` pixels along the rows (norm 1, ``A^T`` shifts back)."""

        def __init__(self, image_size, shift):
            super().__init__((1, image_size, image_size), (1, image_size, image_size))
            self.shift = shift

        def _forward(self, x):
            return torch.roll(x, self.shift, dims=-1)

        def _adjoint(self, y):
            return torch.roll(y, -self.shift, dims=-1)


    @dataclass(frozen=True)
    class ShiftOptions(ProblemOptions):
        shift: int = param(1, "pixels the image is shifted by", minimum=0)

        def build(self, image_size):
            return Shift(image_size, self.shift)
'''

LANDWEBER = '''
    """Landweber's iteration as a genprior method: its parameters and its function."""
    from dataclasses import dataclass

    import torch

    from genprior.methods import Method
    from genprior.methods.common import param_record, per_image
    from genprior.methods.parameters import MethodParams
    from genprior.params import param
    from genprior.solvers.result import Result


    @dataclass(frozen=True)
    class LandweberParams(MethodParams):
        step: float | torch.Tensor = param(1.0, "Landweber step size (0 < step < 2 / ||A||^2)", above=0, maximum=2,
                                           grid=(1.0, {0.25: 0.25, 0.5: 0.25}))
        max_iter: int = param(20, "iteration limit", minimum=1)


    def landweber(physics, y, generator=None, **params):
        """``x <- x + step A^T (y - A x)`` from zero, ``max_iter`` times."""
        p = LandweberParams.create(params, "method 'landweber'")
        x = torch.zeros_like(physics.A_adjoint(y))
        step = per_image(p.step, y.shape[0], "step", y).reshape(-1, 1, 1, 1)  # a grid is solved as one batch
        for _ in range(p.max_iter):
            x = x + step * physics.A_adjoint(y - physics.A(x))
        fit = (physics.A(x) - y).flatten(1).double().pow(2).sum(1)
        B = y.shape[0]
        return Result(x=x, z=None, u=None, iterations=torch.full((B,), p.max_iter), history={"objective": fit[None]},
                      converged=torch.ones(B, dtype=torch.bool), seconds=0.0,
                      params={"step": param_record(p.step)})


    METHOD = Method(landweber, LandweberParams)
'''

NOISY = '''
    """An autoencoder whose codes get Gaussian noise in training: ||x - G(E(x) + s e)||^2."""
    from dataclasses import dataclass

    import torch

    from genprior.models.autoencoder import Autoencoder
    from genprior.models.kinds import ModelKind, ModelSettings
    from genprior.params import param


    @dataclass(frozen=True)
    class NoisySettings(ModelSettings):
        code_noise: float = param(0.1, "std s of the noise added to the codes in training", minimum=0)


    class NoisyCodes(Autoencoder):
        Settings = NoisySettings

        def loss(self, x):
            z = self.encoder(x)
            recon = (self.decoder(z + self.config.code_noise * torch.randn_like(z)) - x).pow(2).flatten(1).sum(1)
            return recon.mean(), {"loss": recon.mean().detach()}


    KIND = ModelKind("toyext.noisy:NoisyCodes", "an autoencoder with noisy codes")
'''

TABLE = '''
    """A table in the paper's style: AE, VAE and the noisy-code AE on MNIST compressed sensing, no GAN."""
    from genprior.experiments.paper.runner import Experiment
    from genprior.experiments.paper.tables import TableSetup, run_table

    SETUP = TableSetup("mnist", "cs", {"measurements": 100}, 0.05, 4, "noisy", kinds=("ae", "vae", "noisy"),
                       methods=("hard",), baselines=("tv",))


    def noisy_table(ctx):
        return run_table(ctx, SETUP, "Noisy codes: MNIST compressed sensing (m = 100, sigma 0.05)")


    EXPERIMENT = Experiment("noisy-table", "AE, VAE and the noisy-code AE on MNIST compressed sensing", (1, 1),
                            ("ae-mnist", "vae-mnist", "noisy-mnist"), noisy_table)
'''


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    """The package ``toyext`` with its entry points, and a small data set beside it."""
    from genprior.data.io import save_dataset

    root = outside_package(tmp_path_factory.mktemp("site"), "toyext",
                           {"shift": SHIFT, "landweber": LANDWEBER, "noisy": NOISY, "table": TABLE},
                           {"genprior.problems": {"shift": "toyext.shift:ShiftOptions"},
                            "genprior.methods": {"landweber": "toyext.landweber:METHOD"},
                            "genprior.model_kinds": {"noisy": "toyext.noisy:KIND"},
                            "genprior.experiments": {"noisy-table": "toyext.table:EXPERIMENT"}})
    g = np.random.default_rng(0)
    save_dataset(root / "small.npz", train=g.random((16, 1, 16, 16)), test=g.random((6, 1, 16, 16)),
                 meta={"dataset": "t"})
    return root


def test_an_installed_operator_and_method_get_their_cli_options_and_run(package):
    helped = genprior_beside(package, ["reconstruct", "--help"])
    assert helped.returncode == 0, helped.stderr
    text = " ".join(helped.stdout.split())
    assert "<tomography|sparse-view|limited-angle|cs|deconvolution|inpainting|denoising|shift>" in text
    from genprior.methods import METHODS

    assert f"<{'|'.join(METHODS.builtins())}|landweber>" in text  # the built-ins, then the installed method
    assert "--shift <int> Pixels the image is shifted by (shift; default 1)." in text
    assert "--step <float> Landweber step size (0 < step < 2 / ||A||^2) (landweber; default 1)." in text

    out = package / "run.json"
    run = genprior_beside(package, ["reconstruct", "--problem", "shift", "--shift", "3", "--method", "landweber",
                                    "--step", "0.5", "--data", str(package / "small.npz"), "--indices", "0:4",
                                    "--noise", "0.0", "--out", str(out)])
    assert run.returncode == 0, run.stderr
    res = json.loads(out.read_text())
    assert res["problem"] == "shift" and res["params"]["step"] == 0.5 and res["psnr"]["mean"] > 40  # A invertible

    tuned = genprior_beside(package, ["tune", "--problem", "shift", "--method", "landweber", "--data",
                                      str(package / "small.npz"), "--tune-indices", "0:2", "--test-indices", "2:4",
                                      "--out", str(package / "tune.json")])
    assert tuned.returncode == 0, tuned.stderr
    assert json.loads((package / "tune.json").read_text())["grid"] == {"step": [1.0, 0.25]}  # 16x16: factor 0.25

    bad = genprior_beside(package, ["reconstruct", "--problem", "shift", "--method", "landweber", "--step", "3",
                                    "--data", str(package / "small.npz"), "--out", str(package / "bad.json")])
    assert bad.returncode == 2 and "--step must be in (0, 2]" in bad.stderr


def test_an_installed_kind_that_subclasses_the_autoencoder_inherits_its_recipe_and_trains(package):
    listed = genprior_beside(package, ["train", "--help"])
    assert listed.returncode == 0, listed.stderr
    assert "noisy Train an autoencoder with noisy codes." in " ".join(listed.stdout.split())
    helped = genprior_beside(package, ["train", "noisy", "--help"])
    text = " ".join(helped.stdout.split())
    assert "--code-noise <float> Std s of the noise added to the codes in training (default 0.1)." in text
    assert "--width <int>" in text and "--kl-weight" not in text and "--critic-steps" not in text

    out = package / "noisy-run"
    run = genprior_beside(package, ["train", "noisy", "--data", str(package / "small.npz"), "--out", str(out),
                                    "--steps", "3", "--batch-size", "4", "--latent-dim", "2", "--code-noise", "0.2",
                                    "--quiet"])
    assert run.returncode == 0, run.stderr
    assert "trained NOISY to step 3 of 3" in run.stdout
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == {"kind": "noisy", "preset": "compact", "latent_dim": 2, "image_size": 16,
                               "code_noise": 0.2}
    assert config["training"]["lr"] == 2e-3 and config["training"]["schedule"] == "cosine"  # the autoencoder's recipe
    loaded = genprior_beside(package, ["evaluate", "--help"])  # the package's kind loads wherever genprior runs
    assert loaded.returncode == 0, loaded.stderr

    bad = genprior_beside(package, ["train", "noisy", "--data", str(package / "small.npz"), "--out",
                                    str(package / "bad"), "--code-noise", "-1"])
    assert bad.returncode == 2 and "--code-noise must be finite and >= 0, got -1" in bad.stderr


def test_an_installed_table_of_ae_vae_and_the_new_kind_runs_without_a_gan(package, fake_mnist):
    listed = genprior_beside(package, ["paper", "--list"])
    assert "noisy-table" in listed.stdout, listed.stderr
    out = package / "paper"
    run = genprior_beside(package, ["paper", "noisy-table", "--quick", "--out", str(out), "--mnist", str(fake_mnist)],
                          timeout=600)
    assert run.returncode == 0, run.stderr
    result = json.loads((out / "noisy-table" / "result.json").read_text())
    assert set(result["cells"]) == {"ae-hard", "vae-hard", "noisy-hard", "tv"}
    assert [c["paper"] for c in result["claims"]] == ["AE hard and VAE hard are competitive with TV on mnist cs",
                                                      "TV is particularly suitable for the cartoon-like MNIST digits"]
    report = (out / "REPORT.md").read_text()
    assert "Noisy codes: MNIST compressed sensing" in report and "| NOISY | hard |" in report


def test_an_entry_point_that_fails_to_load_is_one_error_naming_its_package(tmp_path):
    root = outside_package(tmp_path, "brokenext", {"broken": "import no_such_module\n"},
                           {"genprior.methods": {"broken": "brokenext.broken:METHOD"}})
    run = genprior_beside(root, ["reconstruct", "--help"])
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "the method 'broken' of package 'brokenext'" in run.stderr and "No module named 'no_such_module'" in run.stderr


def test_an_installed_entry_cannot_take_a_built_in_name(tmp_path):
    root = outside_package(tmp_path, "clashext", {"clash": LANDWEBER},
                           {"genprior.methods": {"hard": "clashext.clash:METHOD"}})
    run = genprior_beside(root, ["reconstruct", "--help"])
    assert run.returncode == 2
    assert "package 'clashext'" in run.stderr and "registers the method 'hard', which genprior already provides" in \
        run.stderr
