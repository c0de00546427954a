"""`python -m harness.perf_conv`: the two ways to stack members' convolutions, timed.

M members' Conv2D layers (each its own kernel, its own rows) computed either as one grouped
convolution (members as channel groups of one batch: `StackedConv`'s form) or in a batched form
(each row's patches, then one matmul per member), each in TensorFlow's executor and under XLA;
one forward and backward pass per step, the median of `--repeats` steps. Prints one line per
form with its largest difference from a per-member `tf.nn.conv2d` (the truth).
"""
from __future__ import annotations

import argparse
import time
from typing import Sequence

import numpy as np


def _forms(members: int, rows: int, size: int, channels: int, filters: int, k: int):
    import tensorflow as tf

    def grouped(x, kernel):
        xi = tf.reshape(tf.transpose(x, (1, 2, 3, 0, 4)), (rows, size, size, members * channels))
        f = tf.reshape(tf.transpose(kernel, (1, 2, 3, 0, 4)), (k, k, channels, members * filters))
        y = tf.nn.conv2d(xi, f, 1, "SAME")
        return tf.transpose(tf.reshape(y, (rows, size, size, members, filters)), (3, 0, 1, 2, 4))

    def batched(x, kernel):
        patches = tf.image.extract_patches(tf.reshape(x, (members * rows, size, size, channels)), [1, k, k, 1],
                                           [1, 1, 1, 1], [1, 1, 1, 1], "SAME")
        y = tf.matmul(tf.reshape(patches, (members, rows * size * size, k * k * channels)),
                      tf.reshape(kernel, (members, k * k * channels, filters)))
        return tf.reshape(y, (members, rows, size, size, filters))

    return {"grouped": grouped, "batched": batched}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.perf_conv", description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=90)
    parser.add_argument("--rows", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--no-xla", action="store_true", help="skip XLA (its grouped convolution is very slow on CPU)")
    args = parser.parse_args(argv)
    import tensorflow as tf

    size, channels, filters, k = 8, 8, 16, 3
    x = tf.random.normal((args.members, args.rows, size, size, channels), seed=1)
    kernel = tf.random.normal((args.members, k, k, channels, filters), seed=2)
    truth = tf.stack([tf.nn.conv2d(x[m], kernel[m], 1, "SAME") for m in range(args.members)])
    print(f"{args.members} members × {args.rows} rows of {size}×{size}×{channels}, {k}×{k} kernels to {filters} "
          "filters; one forward and backward pass per step")
    for name, form in _forms(args.members, args.rows, size, channels, filters, k).items():
        for jit in (False,) if args.no_xla else (False, True):
            def step(x, kernel, form=form):
                with tf.GradientTape() as tape:
                    tape.watch([x, kernel])
                    y = form(x, kernel)
                    loss = tf.reduce_sum(tf.square(y))
                return [y] + tape.gradient(loss, [x, kernel])
            compiled = tf.function(step, jit_compile=jit)
            y = compiled(x, kernel)[0]
            error = float(tf.reduce_max(tf.abs(y - truth)))
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                [t.numpy() for t in compiled(x, kernel)]
                times.append(time.perf_counter() - start)
            print(f"{name:8s} {'XLA' if jit else 'executor':8s} {np.median(times) * 1e3:9.1f} ms per step   "
                  f"max |difference| {error:.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
