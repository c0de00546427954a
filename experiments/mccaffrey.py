"""McCaffrey, "Neural Network L2 Regularization Using Python" (shared/seeds/000_8d721c800687eb43.txt).

The demo: a random 10-15-4 "generator" network (tanh hidden, softmax output, weights uniform in
[-9.9, 9.9] from `random.Random(3)`) labels random inputs with its most probable class; 200
training rows (inputs seed 11) and 40 test rows (seed 13). A 10-8-4 tanh/softmax classifier is
trained by back-propagation for 500 epochs at learning rate 0.01, without and then with an L2
term λ·w (λ = 0.005) added to every weight's gradient (not the biases'). The article's
alternative: shrink every weight by a constant fraction each step (decoupled weight decay).

Here: SGD at the demo's learning rate in mini-batches of 8, cross-entropy, no early stopping.
- "L2 (loss penalty)": `kernel_regularizer=L2(λ/2)` on both layers' kernels, whose gradient is
  exactly λ·w, as in the demo;
- "weight decay (optimizer)": SGD's `weight_decay=λ`: before each step every variable (biases
  too: Keras applies it to all) shrinks by lr·λ of its value, which for plain SGD is the same
  update as the L2 term on the kernels;
- "both".
The demo's input range is not printed in the article; inputs here are uniform in [-10, 10], as
in the author's other demos.
"""
from __future__ import annotations

import random

import numpy as np
import pandas as pd
from harness import Dataset, Experiment, Section, Variant
from harness.splitters import FixedSplit
from harness.report.figures import weight_histograms
from harness.stats import split_kernels

SOURCE = ("J. McCaffrey, \"Neural Network L2 Regularization Using Python\", Visual Studio Magazine "
          "(shared/seeds/000_8d721c800687eb43.txt)")
LAMBDA = 0.005
N_IN, N_GEN_HIDDEN, N_OUT = 10, 15, 4


def generator_weights(seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The demo's generator: (10·15 + 15 + 15·4 + 4) weights uniform in [-9.9, 9.9] from
    `random.Random(seed)`, in its setWeights order: input-hidden, hidden biases, hidden-output,
    output biases."""
    rnd = random.Random(seed)
    count = N_IN * N_GEN_HIDDEN + N_GEN_HIDDEN + N_GEN_HIDDEN * N_OUT + N_OUT
    flat = np.array([(9.9 - -9.9) * rnd.random() + -9.9 for _ in range(count)])
    sizes = np.cumsum([N_IN * N_GEN_HIDDEN, N_GEN_HIDDEN, N_GEN_HIDDEN * N_OUT])
    ih, hb, ho, ob = np.split(flat, sizes)
    return ih.reshape(N_IN, N_GEN_HIDDEN), hb, ho.reshape(N_GEN_HIDDEN, N_OUT), ob


def make_data(n_rows: int, inputs_seed: int, generator_seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Inputs uniform in [-10, 10]; each row's class is the generator network's argmax."""
    ih, hb, ho, ob = generator_weights(generator_seed)
    x = np.random.default_rng(inputs_seed).uniform(-10.0, 10.0, size=(n_rows, N_IN))
    logits = np.tanh(x @ ih + hb) @ ho + ob
    return x, logits.argmax(axis=1)


class McCaffreyDemo(Experiment):
    name = "mccaffrey-l2-demo"
    description = ("McCaffrey's L2 demo: 200 train / 40 test rows from a random 10-15-4 network, "
                   "10-8-4 tanh net, L2 penalty vs weight decay vs both, 5 training seeds.")
    source = SOURCE
    in_default_suite = True
    task = "classification"
    hidden_units = (8,)
    activation = "tanh"
    optimizer = "sgd"
    learning_rate = 0.01
    batch_size = 8
    epochs = 500
    patience = None
    quick_epochs = 20
    repeats = 5
    variants = (
        Variant("none"),
        Variant("L2 (loss penalty)", settings={"kernel_l2": LAMBDA / 2}),
        Variant("weight decay (optimizer)", weight_decay=LAMBDA),
        Variant("both", weight_decay=LAMBDA, settings={"kernel_l2": LAMBDA / 2}),
    )

    def load_data(self, data_dir):
        x_train, y_train = make_data(200, inputs_seed=11)
        x_test, y_test = make_data(40, inputs_seed=13)
        X = pd.DataFrame(np.vstack([x_train, x_test]), columns=[f"x{i}" for i in range(N_IN)])
        return Dataset("McCaffrey generator 10-15-4 (seeds 3, 11, 13)", X,
                       pd.Series(np.concatenate([y_train, y_test]), name="class"), "classification")

    def splitter(self):
        return FixedSplit(200, self.repeats)

    def build_model(self, variant, n_inputs, n_outputs):
        """10-8-4, tanh then softmax, with the demo's L2 on both layers' kernels."""
        import keras

        l2 = variant.settings.get("kernel_l2", 0.0)
        penalty = (lambda: keras.regularizers.L2(l2)) if l2 else (lambda: None)
        return keras.Sequential([
            keras.Input((n_inputs,)),
            keras.layers.Dense(8, activation="tanh", kernel_regularizer=penalty()),
            keras.layers.Dense(n_outputs, activation="softmax", kernel_regularizer=penalty()),
        ])

    def source_results(self):
        return [
            {"what": "no L2: train accuracy (191 of 200)", "reported": 0.955, "variant": "none", "stat": "mean_train"},
            {"what": "no L2: test accuracy (28 of 40)", "reported": 0.700, "variant": "none", "stat": "mean"},
            {"what": "L2 λ=0.005: train accuracy (184 of 200)", "reported": 0.920, "variant": "L2 (loss penalty)", "stat": "mean_train"},
            {"what": "L2 λ=0.005: test accuracy (29 of 40)", "reported": 0.725, "variant": "L2 (loss penalty)", "stat": "mean"},
        ]

    def report_sections(self, results):
        magnitudes = split_kernels(results)
        if magnitudes.empty:
            return []
        order = [name for name in results.networks if name in set(magnitudes["variant"])]
        table = (magnitudes.groupby("variant", sort=False)[["max_abs", "l2_norm"]].agg(["mean", "std"]))
        table.columns = ["max |w| mean", "max |w| sd", "L2 norm mean", "L2 norm sd"]
        table = table.reindex(order).reset_index()
        return [Section(
            "Weight magnitudes",
            "All kernel weights of both layers (biases left out), per variant over the splits: "
            "the largest magnitude and the L2 norm (mean and sd over splits), and the histogram of "
            "|w| pooled over splits. The article's argument is that overfitted networks grow large "
            "weights and that the L2 term or a constant decay keeps them small.",
            figure=weight_histograms({v: np.concatenate(list(magnitudes[magnitudes["variant"] == v]["values"]))
                                      for v in order}),
            table=table, csv="weight_magnitudes.csv",
        )]


class McCaffreyCV(McCaffreyDemo):
    name = "mccaffrey-l2-cv"
    description = ("McCaffrey's L2 vs weight decay, cross-validated: 240 generated rows, stratified "
                   "6-fold (200 train / 40 test per fold).")
    in_default_suite = True
    folds = 6

    def splitter(self):
        return Experiment.splitter(self)  # stratified K-fold with `folds`, as any experiment
