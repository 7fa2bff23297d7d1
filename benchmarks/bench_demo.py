"""Run `genprior demo` from scratch (training included) and record its PSNR table and wall time.

Run:  .venv/bin/python benchmarks/bench_demo.py [--record] [--quick]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import machine, record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="write into benchmarks/RESULTS.md")
    parser.add_argument("--quick", action="store_true", help="the --quick demo")
    args = parser.parse_args(argv)
    from genprior.experiments.demo import psnr_table

    where = machine()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "demo"
        cmd = [sys.executable, "-m", "genprior", "demo", "--out", str(out), *(["--quick"] if args.quick else [])]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        import json

        results = json.loads((out / "results.json").read_text())
    training = results["model"]["training"]
    name = "bench_demo_quick" if args.quick else "bench_demo"
    section = "\n".join([
        f"## Demo{' (--quick)' if args.quick else ''}: Shapes tomography, VAE prior vs TV ({name})",
        "",
        f"Command: `.venv/bin/python benchmarks/bench_demo.py{' --quick' if args.quick else ''} --record` "
        f"({time.strftime('%Y-%m-%d')}), which runs `genprior demo{' --quick' if args.quick else ''}` "
        "in a fresh directory (training included)  ",
        f"Machine: {where}",
        "",
        f"Wall time of the whole command: **{wall:.0f} s** (target: {'60 s' if args.quick else '5 minutes'}); "
        f"VAE training {training.get('steps_done')} steps in {training.get('seconds')} s. "
        f"sigma = {results['noise']}, {results['n_tune']} tuning and {results['n_test']} test images, "
        "PSNR with data range 1.",
        "",
        psnr_table(results),
        "",
        f"Best generative method minus TV: **{results['gain_over_tv_db']:+.2f} dB** "
        "(the issue's expectation: at least +2 dB).",
    ])
    print(section)
    if args.record:
        print(f"\nrecorded in {record(name, section)}", file=sys.stderr)


if __name__ == "__main__":
    main()
