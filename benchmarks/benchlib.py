"""Helpers every benchmark script shares: timing, a machine description, recording.

Benchmarks run as scripts (``.venv/bin/python benchmarks/bench_<name>.py [--record]``);
``--record`` replaces the script's own section of ``benchmarks/RESULTS.md``, marked by
``<!-- bench_<name> -->`` comments, and keeps every other section.
"""

from __future__ import annotations

import fcntl
import os
import platform
import statistics
import time
from pathlib import Path

import genprior  # noqa: F401  (first: sets OMP_WAIT_POLICY before torch loads)
import numpy as np
import torch

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def median_ms(fn, repeats: int, warmup: int = 3) -> float:
    """Median wall time of ``fn()`` in milliseconds, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def timed(fn):
    """``(fn(), wall seconds, CPU seconds of this process)``: CPU seconds (all its threads) are less
    sensitive to other jobs on the machine than wall seconds."""
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - start, time.process_time() - cpu


def machine() -> str:
    """CPU model, torch threads and wait policy, versions and the load average now."""
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    return (f"{cpu}, {os.cpu_count()} cores; torch {torch.__version__} with {torch.get_num_threads()} threads "
            f"(OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}); "
            f"Python {platform.python_version()}; numpy {np.__version__}; load average at start {load}")


def record(name: str, section: str) -> Path:
    """Replace (or append) the ``<!-- name -->`` section of RESULTS.md with ``section``.

    Benchmarks may finish at the same time, so the read-modify-write happens under an
    exclusive lock and the file is replaced atomically.
    """
    from genprior.atomic import write_text_atomic

    begin, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    block = f"{begin}\n{section}\n{end}"
    with open(RESULTS.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
        if begin in text and end in text:
            head, rest = text.split(begin, 1)
            text = head + block + rest.split(end, 1)[1]
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
        write_text_atomic(RESULTS, text)
    return RESULTS
