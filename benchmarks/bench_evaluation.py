"""Time each criterion of the generator report card on 10,000 MNIST test images.

Run:  .venv/bin/python benchmarks/bench_evaluation.py [--model runs/mnist-vae-8] [--gan runs/mnist-gan-8]
      [--data runs/data/mnist.npz] [--off-data runs/data/shapes.npz] [--n 10000] [--record]

Each criterion of :mod:`genprior.evaluation.criteria` is timed once (they take seconds
to minutes, so there are no repeats) at the paper's scale: A1 projects all N test
images (encoder start), A2 fits noise, inverted and shifted test images and another data
set's images (``--off-data``, resized), A3 solves the exact EMD at N = 10,000 (and scipy's assignment
solver checks the value on the same cost matrix), the memorisation check searches the
60,000 training images for the nearest neighbours of N samples and N test images.
Finally the whole default report (``genprior evaluate`` settings) is timed for the model.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from benchlib import machine, record


def clock(label: str, fn, rows: list, note=lambda r: ""):
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    rows.append((label, seconds, note(out)))
    print(f"{label}: {seconds:.1f} s  {note(out)}", flush=True)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="runs/mnist-vae-8", help="checkpoint with an encoder (AE or VAE)")
    parser.add_argument("--gan", default=None, help="optional checkpoint without encoder: A1 with random starts")
    parser.add_argument("--gan-n", type=int, default=1000, help="test images for the GAN's A1 (4 starts each)")
    parser.add_argument("--data", default="runs/data/mnist.npz")
    parser.add_argument("--off-data", default="runs/data/shapes.npz",
                        help="another data set for A2 (its test split, resized); '' to skip")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--no-report", action="store_true", help="skip timing the whole default report")
    parser.add_argument("--record", action="store_true", help="write into benchmarks/RESULTS.md")
    args = parser.parse_args(argv)

    import torch
    from scipy.optimize import linear_sum_assignment

    from genprior.data.io import load_images
    from genprior.evaluation import criteria as C
    from genprior.evaluation.report import EvaluationSettings, write_report
    from genprior.models.checkpoint import load_model

    where = machine()
    g = load_model(args.model)
    test, train = load_images(args.data, "test")[: args.n], load_images(args.data, "train")
    N = test.shape[0]
    rows: list[tuple[str, float, str]] = []
    a1 = clock(f"A1 range coverage: z* for {N:,} test images (encoder start, <= 200 iterations)",
               lambda: C.range_coverage(g, test), rows,
               lambda r: f"NRMSE median {r['summary']['nrmse']['median']:.3f}, "
                         f"mean iterations {r['summary']['iterations']['mean']:.0f}")
    other_name = Path(args.off_data).stem if args.off_data else None
    other = load_images(args.off_data, "test") if args.off_data else None
    sets = C.off_distribution_images(test, 100, 0, other=other, other_name=other_name or "other data")
    clock(f"A2 off-distribution: {', '.join(sets)}, 100 images each",
          lambda: C.off_distribution_fit(g, sets, test_nrmse=a1["nrmse"]), rows,
          lambda r: ", ".join(f"{k} AUROC {v['summary']['auroc']:.2f}" for k, v in r.items()))
    _, samples = clock(f"A3 sampling: {N:,} G(z), z ~ N(0, I)", lambda: C.prior_samples(g, N, seed=7), rows)
    emd = clock(f"A3 exact EMD (POT ot.emd2), N = {N:,}, cost matrix included",
                lambda: C.exact_emd(test, samples), rows,
                lambda r: f"EMD {r['emd']:.3f}, cost matrix {r['cost_seconds']:.1f} s, converged {r['converged']}")

    def assignment():
        M = torch.cdist(test.reshape(N, -1).double(), samples.reshape(N, -1).double()).pow_(2).numpy()
        r, c = linear_sum_assignment(M)
        return float(M[r, c].mean())

    clock("A3 check: scipy linear_sum_assignment, same N (cost matrix included)", assignment, rows,
          lambda v: f"value {v:.3f} (POT - scipy = {emd['emd'] - v:.1e})")
    clock("A3 sliced Wasserstein, 1000 directions", lambda: C.sliced_wasserstein(test, samples, 1000), rows,
          lambda r: f"D x SW2^2 {r['scaled']:.3f}, agreement {r['scaled'] / emd['emd']:.3f}")
    clock(f"B2 latent statistics of {N:,} codes (+ projections)", lambda: C.latent_statistics(a1["z"]), rows,
          lambda r: f"KS norm {r['summary']['ks_norm']:.3f}, KL {r['summary']['kl_gaussian']:.3f}")
    clock("B2 far-from-prior samples (4 radii x 8, NN distance to test)",
          lambda: C.far_from_prior_samples(g, n=8, reference=test), rows)
    clock("B1 interpolation grid 5 x 5", lambda: C.interpolation_grid(g, *a1["z"][:3]), rows)
    clock("B1 local Lipschitz, 100 paths x 11 points x 4 directions", lambda: C.local_lipschitz(g, a1["z"]), rows,
          lambda r: f"median {r['summary']['q50']:.2f}, q95 {r['summary']['q95']:.2f}")
    neighbours = clock(f"memorisation: nearest of {train.shape[0]:,} training images for {N:,} test images",
                       lambda: C.nearest_neighbours(test, train), rows)
    clock(f"memorisation: the same for {N:,} samples G(z), and the statistics",
          lambda: C.memorisation(samples, train, test, test_neighbours=neighbours), rows,
          lambda r: f"median ratio {r['median_ratio']:.2f}, copies {100 * r['copy_fraction']:.1f}%")
    clock(f"reference: exact EMD test vs train, N = {N:,}", lambda: C.exact_emd(test, train[:N]), rows,
          lambda r: f"EMD {r['emd']:.3f}")
    if args.gan:
        gan = load_model(args.gan)
        k = min(args.gan_n, N)
        clock(f"A1 for the GAN {Path(args.gan).name}: {k:,} test images, best of 4 random starts",
              lambda: C.range_coverage(gan, test[:k], init="random", restarts=4), rows,
              lambda r: f"NRMSE median {r['summary']['nrmse']['median']:.3f}, "
                        f"mean iterations {r['summary']['iterations']['mean']:.0f}")
    if not args.no_report:
        with tempfile.TemporaryDirectory() as tmp:
            clock("whole default report for this model (`genprior evaluate` defaults: n 1000, emd-n 10000, "
                  f"mem-n 2000, figures{', --off-data ' + other_name if other_name else ''})",
                  lambda: write_report({"model": g}, load_images(args.data, "test"), tmp, train=train,
                                       settings=EvaluationSettings(), off_data=other,
                                       off_name=other_name or "other data"), rows)

    table = ["| step | seconds | result |", "|---|---:|---|"]
    table += [f"| {label} | {seconds:.1f} | {note} |" for label, seconds, note in rows]
    gan_flag = f" --gan {args.gan}" if args.gan else ""
    for flag in ("off_data", "n", "gan_n", "data"):
        value = getattr(args, flag)
        if value != parser.get_default(flag) and (flag != "gan_n" or args.gan):
            gan_flag += f" --{flag.replace('_', '-')} {value}"
    section = "\n".join([
        "## Generator report card: time of each criterion (bench_evaluation)",
        "",
        f"Command: `.venv/bin/python benchmarks/bench_evaluation.py --model {args.model}{gan_flag} --record` "
        f"({time.strftime('%Y-%m-%d')})  ",
        f"Machine: {where}",
        "",
        f"Model `{args.model}` ({g.checkpoint_config['model'].get('kind')}, latent {g.latent_dim}, "
        f"{g.checkpoint_config['model'].get('preset')} preset) on the first {N:,} MNIST test images; "
        f"{train.shape[0]:,} training images. Each step timed once.",
        "",
        "\n".join(table),
    ])
    print(section)
    if args.record:
        print(f"\nrecorded in {record('bench_evaluation', section)}", file=sys.stderr)


if __name__ == "__main__":
    main()
