"""`python -m harness.perf_wide`: what one wide first-layer GEMM would buy a tuned variant.

In a paired design the inner-CV members of one (outer, inner) split (every candidate of every
tuned variant) see the same batches, so their first layers could be one wide product
x (batch, F) @ [W_1 … W_k] (F, k·H) per group instead of k products (batch, F) @ W_m (F, H).
This times the first Dense layer's forward and backward pass (the gradient of the kernels;
the input needs none) of M members in groups of k sharing their rows, three ways:

- `batched`: one (batch, F) @ (F, H) product per member, as the stacked engine computes it
  (its kernels are (M, F, H), its inputs (M, batch, F));
- `wide, kernels moved`: the same kernels moved to (G, F, k·H) inside the step, one wide product
  per group (what the engine's layout would need);
- `wide, kernels kept wide`: kernels stored as (G, F, k·H) (a layout the engine would have to
  adopt throughout: penalties, optimizer, reading and writing member weights);

each in TensorFlow's executor and under XLA; the median of `--repeats` steps, after warm-up.
Prints each form's time and its largest difference from `batched` (the truth). Defaults: the
madelon-like data set of the default suite (F = 500, H = 50, batches of 32) with 12 members per
group (4 tuned variants × 3 candidates) and 180 members (the engine's chunk of its inner CV).
"""
from __future__ import annotations

import argparse
import time
from typing import Any, Callable, Sequence

import numpy as np


def _median_ms(step: Callable[[], Any], repeats: int) -> float:
    for _ in range(5):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.asarray(step())
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def measure(members: int, group: int, features: int, units: int, batch: int, repeats: int) -> list[tuple[str, str, float, float]]:
    """(form, executor or XLA, median ms per step, largest difference from `batched`)."""
    import tensorflow as tf

    if members % group:
        raise SystemExit(f"--members ({members}) must be a multiple of --group ({group})")
    groups = members // group
    rng = np.random.default_rng(0)
    shared = rng.normal(size=(groups, batch, features)).astype("float32")
    x_members = tf.constant(np.repeat(shared, group, axis=0))  # what the engine gathers: rows per member
    x_groups = tf.constant(shared)
    kernel = tf.Variable(rng.normal(scale=0.05, size=(members, features, units)).astype("float32"))
    wide = tf.Variable(tf.reshape(tf.transpose(tf.reshape(kernel, (groups, group, features, units)), (0, 2, 1, 3)),
                                  (groups, features, group * units)))

    def loss(y):
        return tf.reduce_sum(tf.nn.relu(y) ** 2)

    def batched():
        with tf.GradientTape() as tape:
            value = loss(tf.matmul(x_members, kernel))
        return tape.gradient(value, kernel)

    def moved():
        with tf.GradientTape() as tape:
            w = tf.reshape(tf.transpose(tf.reshape(kernel, (groups, group, features, units)), (0, 2, 1, 3)),
                           (groups, features, group * units))
            value = loss(tf.matmul(x_groups, w))
        return tape.gradient(value, kernel)

    def kept():
        with tf.GradientTape() as tape:
            value = loss(tf.matmul(x_groups, wide))
        return tape.gradient(value, wide)  # (G, F, k·H): `as_members` reorders it for the comparison, untimed

    def as_members(grad):
        return tf.reshape(tf.transpose(tf.reshape(grad, (groups, features, group, units)), (0, 2, 1, 3)),
                          (members, features, units))

    rows = []
    for jit in (False, True):
        where = "XLA" if jit else "executor"
        truth = None
        for name, form, back in (("batched", batched, None), ("wide, kernels moved", moved, None),
                                 ("wide, kernels kept wide", kept, as_members)):
            compiled = tf.function(form, jit_compile=jit)
            value = compiled().numpy()
            value = back(value).numpy() if back else value
            truth = value if truth is None else truth
            scale = float(np.abs(truth).max()) or 1.0
            rows.append((name, where, _median_ms(compiled, repeats), float(np.abs(value - truth).max()) / scale))
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.perf_wide", description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=180)
    parser.add_argument("--group", type=int, default=12, help="members sharing their rows (default 12)")
    parser.add_argument("--features", type=int, default=500)
    parser.add_argument("--units", type=int, default=50)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=100)
    args = parser.parse_args(argv)
    rows = measure(args.members, args.group, args.features, args.units, args.batch, args.repeats)
    flops = 2 * 2 * args.members * args.batch * args.features * args.units  # forward and the kernels' gradient
    print(f"first layer of {args.members} members ({args.members // args.group} groups of {args.group} sharing "
          f"their rows), {args.features}→{args.units}, batches of {args.batch}: forward and backward, "
          f"median of {args.repeats} steps")
    print(f"{'form':26s} {'where':9s} {'ms/step':>8s} {'GFLOP/s':>8s} {'vs batched':>10s} {'max rel diff':>12s}")
    base = {where: ms for name, where, ms, _ in rows if name == "batched"}
    for name, where, ms, diff in rows:
        print(f"{name:26s} {where:9s} {ms:8.2f} {flops / ms / 1e6:8.1f} {base[where] / ms:9.2f}× {diff:12.1e}")


if __name__ == "__main__":
    main()
