"""What a regularizer did to the weights, from each split's stored weights: per-layer norms,
the distribution of weight magnitudes, and the first layer's weight on each input.

Dense layers are recognized by their 2-D kernels (weights named `…/kernel`), whatever the
builder called them; biases are left out; layers with other weights (convolutions,
normalization, embeddings) are listed as not analysed.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..core import Results

#: |w| below this counts as (near) zero in the per-layer share
NEAR_ZERO = 1e-3
#: an input counts as driven to zero when its first-layer weight falls below this share of the
#: same network's largest input weight (Adam with an L1 penalty hovers near zero, never at it):
#: relative to the network itself, so shrinking every input alike zeroes none
ZEROED_SHARE = 0.05


def layer_of(name: str) -> str:
    """The layer of a weight's path: 'mlp/hidden_1/kernel' -> 'hidden_1'. The first part, the
    model's name, is dropped: Keras numbers unnamed models (sequential_6), so it differs
    between the splits of one variant."""
    parts = name.split("/")
    return "/".join(parts[1:-1]) if len(parts) >= 3 else parts[0]


def dense_kernels(weights: Mapping[str, np.ndarray]) -> tuple[dict[str, np.ndarray], list[str]]:
    """The Dense kernels by layer name, in model order, and the layers whose weights are not
    a Dense layer's (analysed nowhere here)."""
    kernels = {layer_of(name): np.asarray(value) for name, value in weights.items()
               if name.endswith("kernel") and np.ndim(value) == 2 and not name.endswith("recurrent_kernel")}
    others = [layer for layer in dict.fromkeys(layer_of(name) for name in weights) if layer not in kernels]
    return kernels, others


def skipped_layers(results: Results) -> list[str]:
    """Every layer with stored weights that is not a Dense layer, over all variants."""
    skipped: dict[str, None] = {}
    for row in results.ok().itertuples():
        if row.weights is not None:
            skipped.update(dict.fromkeys(dense_kernels(row.weights)[1]))
    return list(skipped)


def layer_norms(results: Results, threshold: float = NEAR_ZERO) -> pd.DataFrame:
    """One row per (variant, split, Dense layer): the kernel's L1 norm Σ|w|, L2 norm √Σw²,
    max |w| and the share of weights with |w| < threshold. Layers are matched by their place
    among the Dense layers (Keras numbers the layers of each model it builds: dense_2, dense_3
    in one split are dense, dense_1 in another) and named as the first model names them."""
    rows = []
    networks = set(results.networks)
    names: dict[int, str] = {}
    for row in results.ok().itertuples():
        if row.weights is None or row.variant not in networks:
            continue
        for position, (layer, kernel) in enumerate(dense_kernels(row.weights)[0].items()):
            names.setdefault(position, layer)
            magnitude = np.abs(kernel.astype("float64"))
            rows.append({"variant": row.variant, "split": row.split, "layer": names[position], "weights": magnitude.size,
                         "l1": float(magnitude.sum()), "l2": float(np.sqrt(np.sum(magnitude ** 2))),
                         "max_abs": float(magnitude.max()) if magnitude.size else np.nan,
                         "near_zero": float(np.mean(magnitude < threshold)) if magnitude.size else np.nan})
    return pd.DataFrame(rows, columns=["variant", "split", "layer", "weights", "l1", "l2", "max_abs", "near_zero"])


def layer_summary(results: Results, order: Sequence[str] | None = None) -> pd.DataFrame:
    """Per variant and Dense layer: the mean and (population) standard deviation over splits
    of each kernel's L1 norm, L2 norm, max |w| and share of |w| < 1e-3."""
    norms = layer_norms(results)
    if norms.empty:
        return pd.DataFrame()
    measures = ["l1", "l2", "max_abs", "near_zero"]
    grouped = norms.groupby(["variant", "layer"], sort=False)
    table = grouped[measures].mean().join(grouped[measures].std(ddof=0), rsuffix="_sd").reset_index()
    table.insert(2, "weights", grouped["weights"].first().to_numpy())
    table.insert(3, "splits", grouped.size().to_numpy())
    if order is not None:
        rank = {name: i for i, name in enumerate(order)}
        table = table.sort_values("variant", key=lambda s: s.map(rank), kind="stable")
    return table.reset_index(drop=True)


def magnitudes(results: Results, variant: str) -> np.ndarray:
    """|w| of every Dense kernel weight of every successful split of `variant`, pooled."""
    values = [np.abs(kernel).ravel() for weights in results.weights(variant)
              for kernel in dense_kernels(weights)[0].values()]
    return np.concatenate(values) if values else np.zeros(0)


def input_weights(results: Results, order: Sequence[str] | None = None) -> pd.DataFrame:
    """Variants × inputs: the first Dense layer's mean |w| over its units for each input, then
    the mean over splits. Inputs are named as the network saw them (after preprocessing) where
    the run recorded it, else 'input 0', 'input 1', …; variants whose first layer has another
    number of inputs than the baseline's are left out."""
    rows = {}
    for name in order or results.networks:
        if name not in results.networks:
            continue
        per_split = []
        for weights in results.weights(name):
            kernels = dense_kernels(weights)[0]
            if kernels:
                per_split.append(np.abs(next(iter(kernels.values()))).mean(axis=1))
        if per_split and len({len(p) for p in per_split}) == 1:
            rows[name] = np.mean(per_split, axis=0)
    if not rows:
        return pd.DataFrame()
    width = len(next(iter(rows.values())))
    rows = {name: values for name, values in rows.items() if len(values) == width}
    names = results.run.input_names
    columns = [str(n) for n in names] if names and len(names) == width else [f"input {i}" for i in range(width)]
    return pd.DataFrame(rows, index=columns).T


def zeroed_inputs(inputs: pd.DataFrame, baseline: str, share: float = ZEROED_SHARE) -> pd.DataFrame:
    """Per variant: the inputs whose first-layer weight fell below `share` of that variant's own
    largest input weight (driven to zero: sparsity), how many kept more, and `scale`, its median
    input weight over the baseline's (shrinkage: a variant that shrinks every input to 8% has a
    scale of 0.08 and zeroes none)."""
    columns = ["variant", "zeroed", "kept", "scale", "zeroed inputs", "kept inputs"]
    if inputs.empty or baseline not in inputs.index:
        return pd.DataFrame(columns=columns)
    base = float(np.median(inputs.loc[baseline]))
    rows = []
    for name, values in inputs.iterrows():
        threshold = share * float(values.max())
        zeroed = [str(c) for c, v in values.items() if v < threshold]
        kept = [str(c) for c, v in values.items() if v >= threshold]
        rows.append({"variant": name, "zeroed": len(zeroed), "kept": len(kept),
                     "scale": float(np.median(values)) / base if base > 0 else np.nan,
                     "zeroed inputs": _names(zeroed), "kept inputs": _names(kept)})
    return pd.DataFrame(rows, columns=columns)


def _names(names: list[str], limit: int = 12) -> str:
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f", … ({len(names) - limit} more)"


def kernel_arrays(weights: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """The kernels among a split's weights (every array named `…kernel`), in the model's order."""
    return [value for name, value in weights.items() if name.endswith("kernel")]


def split_kernels(results: Results) -> pd.DataFrame:
    """One row per successful split with stored weights: variant, split, and `values`, all its
    Dense kernel weights flattened (biases excluded); plus `max_abs` and `l2_norm` of those."""
    rows = []
    for row in results.ok().itertuples():
        if row.weights is None:
            continue
        flat = np.concatenate([k.ravel() for k in kernel_arrays(row.weights)] or [np.zeros(0)])
        if flat.size:
            rows.append({"variant": row.variant, "split": row.split, "values": flat,
                         "max_abs": float(np.abs(flat).max()),
                         "l2_norm": math.sqrt(float(np.sum(flat.astype("float64") ** 2)))})
    return pd.DataFrame(rows, columns=["variant", "split", "values", "max_abs", "l2_norm"])
