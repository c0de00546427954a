"""A convolutional network on scikit-learn's 8×8 digits images: where dropout and L2 matter most
in practice, and what the stacked engine stacks beyond Dense layers (Conv2D, pooling, Flatten).

The 64 pixel columns (0-16 each) are scaled to [0, 1] and reshaped to 8×8×1 images inside the
model (`keras.layers.Reshape`): the harness feeds tables. 500 of the 1797 images, disjoint from
the default suite's digits data sets (`DIGITS_PARTS`), so this experiment can be read beside them.
"""
from __future__ import annotations

import numpy as np
from sklearn.preprocessing import FunctionTransformer

from harness import Dataset, Experiment, Variant
from harness.regularizers import kernel_penalty

from .sklearn_suite import _digits_subset


def _pixels(X):
    """Pixel intensities 0-16 as 0-1."""
    return np.asarray(X, dtype="float32") / 16.0


class DigitsCNN(Experiment):
    name = "digits-cnn"
    description = ("Handwritten digits as 8×8 images (500 of 1797, 10 classes), accuracy, with a small convolutional "
                   "network: Conv2D(8, 3×3) → max-pool → Conv2D(16, 3×3) → max-pool → Flatten → Dense(10); L2 on "
                   "both convolutions' kernels, dropout before the output layer. Source: scikit-learn's load_digits "
                   "(rows disjoint from digits-small's and digits-noisy-labels').")
    task = "classification"
    in_default_suite = True
    folds = 5
    epochs = 150
    cv_repeats = 2
    patience = 10
    variants = (
        Variant("none"),
        Variant("L2 1e-3", l2=1e-3),
        Variant("L2 1e-2", l2=1e-2),
        Variant("dropout 0.3", dropout=0.3),
        Variant("dropout 0.3 + L2 1e-3", dropout=0.3, l2=1e-3),
    )

    def load_data(self, data_dir):
        X, y = _digits_subset(self.name)
        return Dataset("digits as 8×8 images (500 of 1797)", X, y, "classification")

    def preprocessor(self, X):
        return FunctionTransformer(_pixels)

    def build_model(self, variant, n_inputs, n_outputs):
        import keras

        layers = [keras.Input((n_inputs,)), keras.layers.Reshape((8, 8, 1))]
        for filters in (8, 16):
            layers += [keras.layers.Conv2D(filters, 3, padding="same", activation="relu",
                                           kernel_regularizer=kernel_penalty(variant.l1, variant.l2)),
                       keras.layers.MaxPooling2D(2)]
        layers.append(keras.layers.Flatten())
        if variant.dropout:
            layers.append(keras.layers.Dropout(variant.dropout))
        layers.append(keras.layers.Dense(n_outputs, activation="softmax"))
        return keras.Sequential(layers, name="cnn")
