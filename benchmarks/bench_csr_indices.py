"""The tomography matrix's CSR index type: int64 against int32, side by side, same values.

Run:  .venv/bin/python benchmarks/bench_csr_indices.py [--repeats 30] [--threads N] [--record]

``Tomography`` stores ``A`` and ``A^T`` as float32 CSR matrices (physics/tomography.py).
torch's CPU product of a CSR matrix with a dense one goes through MKL's sparse BLAS, which
takes 32-bit indices: matrices held with int64 indices are converted on every call.  This
measures, in one process and interleaved, ``A x`` and ``A^T y`` with the two index types
(the same matrix otherwise) for the paper's two geometries (56x56: 125 x 81 rays; 128x128:
285 x 183) at batch 1, 30 and 100, and checks that the products are bit-identical.
"""

from __future__ import annotations

import argparse
import time

import torch
from benchlib import machine, median_ms, record

import genprior  # noqa: F401  (first: sets OMP_WAIT_POLICY before torch loads)

BATCHES = (1, 30, 100)


def with_indices(matrix: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The same CSR matrix with its index arrays of type ``dtype``."""
    return torch.sparse_csr_tensor(matrix.crow_indices().to(dtype), matrix.col_indices().to(dtype),
                                   matrix.values(), size=matrix.shape, check_invariants=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from genprior.physics.tomography import Tomography

    started = time.strftime("%Y-%m-%d %H:%M")
    where = machine()
    rows, identical = [], True
    for size in (56, 128):
        op = Tomography(size)
        for name, matrix in (("A x", op.matrix), ("A^T y", op.matrix_t)):
            long, short = with_indices(matrix, torch.int64), with_indices(matrix, torch.int32)
            for batch in BATCHES:
                x = torch.rand(matrix.shape[1], batch, generator=torch.Generator().manual_seed(0))
                identical &= torch.equal(long @ x, short @ x)
                ms = {"int64": [], "int32": []}
                for _ in range(3):  # interleaved thirds, the median of each
                    ms["int64"].append(median_ms(lambda m=long, v=x: m @ v, args.repeats // 3))
                    ms["int32"].append(median_ms(lambda m=short, v=x: m @ v, args.repeats // 3))
                a, b = (sorted(v)[1] for v in (ms["int64"], ms["int32"]))
                rows.append(f"| {size}x{size} | {name} | {batch} | {a:.3f} | {b:.3f} | {a / b:.2f} |")
                print(rows[-1], flush=True)
    text = "\n".join([
        "## Tomography matrix: CSR indices int64 against int32 (bench_csr_indices)", "",
        f"Command: `.venv/bin/python benchmarks/bench_csr_indices.py --repeats {args.repeats}"
        f"{f' --threads {args.threads}' if args.threads else ''} --record` ({started})  ",
        f"Machine: {where}", "",
        "The same float32 CSR matrix with int64 and with int32 index arrays, one process, interleaved; milliseconds "
        f"per product (median of {args.repeats // 3} calls, the middle of 3 interleaved rounds). Products "
        f"bit-identical with either index type: {'yes' if identical else 'NO'}.", "",
        "| geometry | product | batch | int64 ms | int32 ms | ratio |", "|---|---|---:|---:|---:|---:|", *rows])
    print(text)
    if args.record:
        record("bench_csr_indices", text)


if __name__ == "__main__":
    main()
