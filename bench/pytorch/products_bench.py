"""PyTorch beside `pita bench --only ditproducts`: the same matrix products, each alone.

Reads the products from the JSON that `pita bench --only ditproducts --json FILE` wrote (one list of
shapes for both), runs each with torch.matmul on the same transposed layouts, and times it on the
device only (CUDA events around RUNS launches, after WARMUP; on the CPU the wall clock). Prints one
JSON line per product: its label, milliseconds (median of the runs) and TFLOP/s.

Usage: python3 bench/pytorch/products_bench.py PITA_JSON [--device cuda|cpu] [--runs N] [--warmup N]
PyTorch's default float32 precision is kept (no TF32), as in nets_bench.py.
"""
import argparse
import json
import statistics
import sys
import time

import torch


def operand(batch, rows, cols, transposed, dev):
    """A [batch, rows, cols] operand stored as its transpose when `transposed` (as pita's input is)."""
    shape = (batch, cols, rows) if transposed else (batch, rows, cols)
    t = torch.randn(*shape, device=dev)
    return t.transpose(1, 2) if transposed else t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pita_json")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cuda")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args()
    with open(args.pita_json) as f:
        shapes = json.load(f)["products"]
    dev = torch.device(args.device)
    torch.manual_seed(0)
    for s in shapes:
        b, m, n, k = s["batch"], s["M"], s["N"], s["K"]
        a = operand(b, m, k, s["transposeA"], dev)
        bb = operand(b, k, n, s["transposeB"], dev)
        if b == 1:
            a, bb = a[0], bb[0]
        times = []
        for i in range(args.warmup + args.runs):
            if args.device == "cuda":
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                torch.matmul(a, bb)
                end.record()
                torch.cuda.synchronize()
                ms = start.elapsed_time(end)
            else:
                t0 = time.perf_counter()
                torch.matmul(a, bb)
                ms = (time.perf_counter() - t0) * 1e3
            if i >= args.warmup:
                times.append(ms)
        ms = statistics.median(times)
        print(json.dumps({
            "label": s["label"], "batch": b, "M": m, "N": n, "K": k,
            "transposeA": s["transposeA"], "transposeB": s["transposeB"],
            "ms": ms, "tflops": 2 * b * m * n * k / (ms * 1e-3) / 1e12,
            "torch": torch.__version__, "device": args.device,
            "gpu": torch.cuda.get_device_name(0) if args.device == "cuda" else None,
        }))


if __name__ == "__main__":
    sys.exit(main())
