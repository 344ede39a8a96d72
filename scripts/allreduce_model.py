#!/usr/bin/env python3
"""A model (not a measurement) of one data-parallel training step on n machines like this one.

Each machine computes forward + backward on its own batch (weak scaling: the per-machine batch is
fixed), then the gradients are averaged by ring all-reduce, one all-reduce per gradient bucket
(DistributedDataParallel's defaults: a first bucket of 1 MB, then 25 MB buckets). Ring cost of
one bucket of S_b bytes on n machines (Patarasuk & Yuan; NCCL's and Horovod's ring):

    T(n, S_b) = 2(n-1)·α + 2(n-1)/n · S_b/β

so for the whole gradient of S bytes in k buckets  T = k·2(n-1)·α + 2(n-1)/n · S/β.

  α  per-message latency: a typical value for MPI over TCP on 10 GbE (default 30 µs; 25-50 µs
     is usual), and, given the loopback table (--loopback-json), the one fitted from it:
     on 2 ranks T(2, S→0) = 2α, so α = (latency of the 1 KB all-reduce over TCP) / 2.
  β  10 Gbit/s × 0.9 efficiency = 1.125 GB/s.

Step times: compute C is one machine's forward + backward + optimiser step at its batch.
  no overlap:       C + T
  perfect overlap:  C·(1 - b) + max(C·b, T), where b ≈ 2/3 is backward's share of the step (the
                    all-reduce can hide behind backward only; forward and the optimiser cannot
                    overlap it; "perfect": every bucket starts the moment its gradients are ready
                    and nothing else slows down, an upper bound on what overlap gives).
  efficiency = C / step time (1 machine, no all-reduce: 1.0); images/s = n × batch / step time.

Usage: python3 scripts/allreduce_model.py [--loopback-json FILE] [--alpha-us 30] [options]
With no workload option it prints the presets (cnn, resnet18, resnet18-224); --params or
--gradient-bytes with --compute-ms and --batch describe another model instead.
"""
import argparse
import json
import math
import sys

# The presets: gradient bytes (float32), one machine's step time in ms, batch per machine, where
# the compute time comes from.
PRESETS = {
    "cnn": dict(
        params=421_642, compute_ms=15.0, batch=64,
        what="stitch's `cnn` (FashionModels.smallCNN: 421,642 parameters = 1.69 MB of gradients), batch 64 of 1×28×28",
        source="this machine when quiet: `stitch train --model cnn`, 2 epochs in 29.0 s = 15.5 ms per batch "
               "with data and evaluation; deep-bench fmnist_cnn_step 13.3 ms (BENCHMARKS.md)"),
    "resnet18": dict(
        params=11_181_642, compute_ms=70.0, batch=32,
        what="ResNet-18, 10 classes (11,181,642 parameters = 44.7 MB of gradients), batch 32 of 3×32×32",
        source="deep-bench resnet18_step on this machine when quiet, 64-74 ms in BENCHMARKS.md"),
    "resnet18-224": dict(
        params=11_181_642, compute_ms=70.0 * 49, batch=32,
        what="ResNet-18 as above but 224×224 inputs, batch 32",
        source="the 32×32 step × 49, as FLOPs scale with pixels: an extrapolation, not measured"),
}
MB = 1_048_576


def buckets(gradient_bytes, first_mb, cap_mb):
    """All-reduces per step: a first bucket of first_mb, then buckets of cap_mb (at least 1)."""
    rest = max(0.0, gradient_bytes - first_mb * MB)
    return 1 + math.ceil(rest / (cap_mb * MB))


def allreduce_seconds(n, gradient_bytes, k, alpha, beta):
    """Ring all-reduce of gradient_bytes in k buckets on n machines (0 on one machine)."""
    if n == 1:
        return 0.0
    return k * 2 * (n - 1) * alpha + 2 * (n - 1) / n * gradient_bytes / beta


def table(name, gradient_bytes, compute, batch, alpha, beta, k, backward_share, machines):
    """The Markdown table of one workload for one α, and the first n where communication
    dominates (T > backward: overlap no longer hides it; T > C: more than the compute)."""
    efficiencies = []
    lines = [
        "| machines | all-reduce ms | step ms, no overlap | step ms, perfect overlap "
        "| efficiency, no overlap | efficiency, overlap | images/s, no overlap | images/s, overlap |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    beyond_backward = beyond_compute = None
    for n in machines:
        t = allreduce_seconds(n, gradient_bytes, k, alpha, beta)
        plain = compute + t
        overlapped = compute * (1 - backward_share) + max(compute * backward_share, t)
        if beyond_backward is None and t > compute * backward_share:
            beyond_backward = n
        if beyond_compute is None and t > compute:
            beyond_compute = n
        efficiencies.append((compute / plain, compute / overlapped))
        lines.append(f"| {n} | {t * 1e3:.2f} | {plain * 1e3:.2f} | {overlapped * 1e3:.2f} "
                     f"| {compute / plain:.0%} | {compute / overlapped:.0%} "
                     f"| {n * batch / plain:,.0f} | {n * batch / overlapped:,.0f} |")
    return lines, efficiencies, beyond_backward, beyond_compute


def loopback_alpha(path):
    """α fitted from the loopback table: half the 1 KB all-reduce latency on 2 ranks (µs), and
    that latency. `path` holds allreduce-bench --json lines (other lines are skipped)."""
    try:
        with open(path) as f:
            rows = [json.loads(line) for line in f if line.startswith("{")]
    except (OSError, ValueError) as error:
        sys.exit(f"allreduce_model: --loopback-json {path}: {error}")
    small = [r for r in rows if r["bytes"] == 1024]
    if not small:
        sys.exit(f"allreduce_model: {path}: no 1 KB row (bytes 1024) among {len(rows)} JSON lines")
    row = small[0]
    if row["ranks"] != 2:
        sys.exit(f"allreduce_model: {path}: the 1 KB row is from {row['ranks']} ranks; the fit needs 2")
    return row["latency_us"] / 2, row["latency_us"]


def positive(text):
    value = float(text)
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"{text}: not a positive number")
    return value


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--params", type=int, help="parameters of the model (float32 gradients: 4 bytes each)")
    parser.add_argument("--gradient-bytes", type=int, help="gradient bytes (instead of --params)")
    parser.add_argument("--compute-ms", type=positive, help="one machine's step time (forward + backward + optimiser), ms")
    parser.add_argument("--batch", type=int, default=64, help="images per machine per step (default 64)")
    parser.add_argument("--name", default="custom model", help="the model's name in the heading")
    parser.add_argument("--alpha-us", type=positive, default=30.0, help="typical per-message latency, µs (default 30)")
    parser.add_argument("--loopback-json", help="allreduce-bench --json output over TCP, 2 ranks: also fit α from it")
    parser.add_argument("--network-gbit", type=positive, default=10.0, help="link speed, Gbit/s (default 10)")
    parser.add_argument("--efficiency", type=positive, default=0.9, help="share of the link speed reached (default 0.9)")
    parser.add_argument("--backward-share", type=positive, default=2 / 3, help="backward's share of the step (default 2/3)")
    parser.add_argument("--first-bucket-mb", type=positive, default=1.0, help="first gradient bucket, MB (default 1)")
    parser.add_argument("--bucket-mb", type=positive, default=25.0, help="gradient bucket cap, MB (default 25)")
    parser.add_argument("--machines", default="1,2,4,8,16,32,64", help="comma-separated machine counts")
    args = parser.parse_args()
    if args.backward_share > 1:
        parser.error(f"--backward-share {args.backward_share}: more than the whole step")
    try:
        machines = [int(m) for m in args.machines.split(",")]
    except ValueError:
        parser.error(f"--machines {args.machines}: not a comma-separated list of integers")
    if any(m < 1 for m in machines):
        parser.error(f"--machines {args.machines}: every count must be at least 1")

    if args.params is not None or args.gradient_bytes is not None:
        if args.compute_ms is None:
            parser.error("--params/--gradient-bytes need --compute-ms (one machine's step time)")
        size = args.gradient_bytes if args.gradient_bytes is not None else 4 * args.params
        workloads = [(args.name, size, args.compute_ms, args.batch, f"{size:,} bytes of gradients, batch {args.batch}",
                      "given")]
    else:
        workloads = [(name, 4 * p["params"], args.compute_ms or p["compute_ms"], p["batch"], p["what"],
                      "given" if args.compute_ms else p["source"])
                     for name, p in PRESETS.items()]

    beta = args.network_gbit * 1e9 / 8 * args.efficiency
    alphas = [(args.alpha_us, "typical for MPI over TCP on 10 GbE")]
    if args.loopback_json:
        fitted, latency = loopback_alpha(args.loopback_json)
        alphas.append((fitted, f"fitted: half the {latency:.1f} µs all-reduce of 1 KB over loopback TCP, 2 ranks"))

    print("## Scaling model (a model, not a measurement)")
    print()
    print(f"Ring all-reduce per bucket T = 2(n−1)·α + 2(n−1)/n · S/β; β = {args.network_gbit:g} Gbit/s × "
          f"{args.efficiency:g} = {beta / 1e9:.3f} GB/s; buckets of {args.first_bucket_mb:g} MB first, then "
          f"{args.bucket_mb:g} MB; backward = {args.backward_share:.2f} of the step; weak scaling (batch per "
          "machine fixed); efficiency = one machine's step time / step time.")
    summary = []   # (heading, efficiencies per machine count)
    for name, size, compute_ms, batch, what, source in workloads:
        k = buckets(size, args.first_bucket_mb, args.bucket_mb)
        for alpha_us, alpha_text in alphas:
            print()
            print(f"### {name}, α = {alpha_us:.3g} µs")
            print(f"{what}. Compute {compute_ms:g} ms per step ({source}); S = {size / 1e6:.2f} MB in {k} "
                  f"bucket{'s' if k > 1 else ''}; α = {alpha_us:.3g} µs ({alpha_text}).")
            print()
            lines, efficiencies, beyond_backward, beyond_compute = table(
                name, size, compute_ms / 1e3, batch, alpha_us / 1e6, beta, k, args.backward_share, machines)
            print("\n".join(lines))
            summary.append((f"{name}, α {alpha_us:.3g} µs", efficiencies))
            print()
            def first(n):
                return f"from {n} machines" if n else f"not up to {machines[-1]} machines"
            print(f"All-reduce longer than backward (overlap can no longer hide it): {first(beyond_backward)}; "
                  f"longer than the whole compute: {first(beyond_compute)}.")

    print()
    print("### Summary: scaling efficiency, no overlap / perfect overlap")
    print()
    print("| machines | " + " | ".join(heading for heading, _ in summary) + " |")
    print("|---:|" + "---:|" * len(summary))
    for i, n in enumerate(machines):
        print(f"| {n} | " + " | ".join(f"{e[i][0]:.0%} / {e[i][1]:.0%}" for _, e in summary) + " |")


if __name__ == "__main__":
    main()
