"""What regularizes a variant, as read from the model it builds: every L1/L2 penalty (on
which weight of which layer, how strong), every dropout and noise layer, and the optimizer's
decoupled weight decay.

This is the one description the report, the page across data sets and the experiments group
by, whatever fields or settings the variant used to ask for it (`l2=`, a per-layer list, a
builder of the user's own).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence


def penalty_kind(l1: float, l2: float) -> str:
    """'L1', 'L2', 'L1L2' or 'none' for the coefficients of l1·Σ|w| + l2·Σw²."""
    if l1 and l2:
        return "L1L2"
    return "L1" if l1 else ("L2" if l2 else "none")


@dataclass(frozen=True)
class Penalty:
    """l1·Σ|w| + l2·Σw² on one weight (`on`: 'kernel', 'bias', 'activity', …) of one layer; or,
    with `custom`, a regularizer that is not an L1/L2 penalty, by its class name."""

    layer: str
    on: str
    l1: float = 0.0
    l2: float = 0.0
    custom: str | None = None

    @property
    def kind(self) -> str:
        return self.custom or penalty_kind(self.l1, self.l2)

    @property
    def strength(self) -> float:
        """The coefficient: l1 or l2, the larger of both for L1L2."""
        return max(self.l1, self.l2)


@dataclass(frozen=True)
class Regularization:
    """Everything a variant trains with that regularizes: `penalties` (one per penalized weight),
    `dropout` and `noise` as (layer, rate or standard deviation) pairs, and the optimizer's
    decoupled `weight_decay`."""

    penalties: tuple[Penalty, ...] = ()
    dropout: tuple[tuple[str, float], ...] = ()
    noise: tuple[tuple[str, float], ...] = ()
    weight_decay: float = 0.0
    #: a tuned variant's search (`Search.describe()`); what is read from the model is then its
    #: most regularized candidate's
    search: str = ""

    @property
    def penalty_kind(self) -> str:
        """The kind of every penalty (kernel, bias or activity) when they share one: 'none', 'L1',
        'L2', 'L1L2', or a regularizer's class name for one that is not an L1/L2 penalty; else
        'mixed'."""
        kinds = {p.kind for p in self.penalties}
        return kinds.pop() if len(kinds) == 1 else ("none" if not kinds else "mixed")

    @property
    def penalty_strength(self) -> float | None:
        """The one coefficient every penalty shares (L1L2 with l1 = l2 counts as that value), or
        None: no penalty, or penalties of different strengths or kinds."""
        values = {(p.l1, p.l2) for p in self.penalties}
        if self.penalty_kind not in ("L1", "L2", "L1L2") or len(values) != 1:
            return None
        l1, l2 = values.pop()
        if l1 and l2 and l1 != l2:
            return None
        return l1 or l2

    @property
    def families(self) -> tuple[str, ...]:
        """The kinds of regularization present, e.g. ('L2', 'dropout'); () for none."""
        found = [] if self.penalty_kind == "none" else [self.penalty_kind]
        found += ["dropout"] * bool(self.dropout) + ["noise"] * bool(self.noise)
        found += ["weight decay"] * bool(self.weight_decay)
        return tuple(found)

    @property
    def family(self) -> str:
        """The families joined, e.g. 'L2 + dropout', or 'none'; a tuned variant's say so ('L2, tuned')."""
        return (" + ".join(self.families) or "none") + (", tuned" if self.search else "")

    def describe(self) -> str:
        """One line for a person, e.g. 'L2 0.001 on the kernels of hidden_1, hidden_2; dropout
        0.2 after hidden_1, hidden_2'; for a tuned variant, where it acts and what was searched."""
        if self.search:
            where = sorted({p.layer for p in self.penalties} | {n for n, _ in self.dropout} | {n for n, _ in self.noise})
            return f"{self.family}{' at ' + ', '.join(where) if where else ''}: {self.search}"
        parts = []
        keys = ((p.kind, p.on, p.l1, p.l2, p.custom) for p in self.penalties)
        for (kind, on, l1, l2, custom), layers in _grouped(keys, (p.layer for p in self.penalties)):
            strength = ("" if custom else f" {l1:g}" if kind == "L1" else f" {l2:g}" if kind == "L2"
                        else f" (l1 {l1:g}, l2 {l2:g})")
            parts.append(f"{kind}{strength} on the {on}{'s' if len(layers) > 1 else ''} of {', '.join(layers)}")
        for (rate,), layers in _grouped(((r,) for _, r in self.dropout), (n for n, _ in self.dropout)):
            parts.append(f"dropout {rate:g} at {', '.join(layers)}")
        for (sd,), layers in _grouped(((s,) for _, s in self.noise), (n for n, _ in self.noise)):
            parts.append(f"Gaussian noise sd {sd:g} at {', '.join(layers)}")
        if self.weight_decay:
            parts.append(f"weight decay {self.weight_decay:g}")
        return "; ".join(parts) or "nothing (no penalty, dropout, noise or weight decay)"

    def to_json(self) -> dict[str, Any]:
        return {"penalties": [[p.layer, p.on, p.l1, p.l2, p.custom] for p in self.penalties],
                "dropout": [list(pair) for pair in self.dropout], "noise": [list(pair) for pair in self.noise],
                "weight_decay": self.weight_decay, **({"search": self.search} if self.search else {})}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Regularization":
        return cls(penalties=tuple(Penalty(entry[0], entry[1], float(entry[2]), float(entry[3]), *entry[4:])
                                   for entry in data.get("penalties", [])),
                   dropout=tuple((str(n), float(r)) for n, r in data.get("dropout", [])),
                   noise=tuple((str(n), float(s)) for n, s in data.get("noise", [])),
                   weight_decay=float(data.get("weight_decay", 0.0)), search=str(data.get("search", "")))


def _grouped(keys: Iterable[Sequence[Any]], layers: Iterable[str]) -> list[tuple[tuple[Any, ...], list[str]]]:
    """Layers gathered under their key, keys in order of first appearance."""
    groups: dict[tuple[Any, ...], list[str]] = {}
    for key, layer in zip(keys, layers):
        groups.setdefault(tuple(key), []).append(layer)
    return list(groups.items())
