"""The sections of an experiment's page: each a function from `Results` to a `Section` (or a
list of them, or None to leave it out). `SECTIONS` is the page, in order; adding a section to
every page is appending a function to it:

    from harness.report import SECTIONS
    from harness import Section

    def epochs_trained(results):
        table = results.scores().groupby("variant")["epochs"].describe().reset_index()
        return Section("Epochs trained", "Per variant, over the splits.", table=table, csv="epochs.csv")

    SECTIONS.append(epochs_trained)
"""
from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

from .. import stats
from ..core import OK, Results, Section
from ..core.tuning import candidate_label
from ..stats import tuning as tuning_stats
from ..stats import weights as weight_stats
from . import figures
from .render import SectionBuilder
from .formatting import fmt as _fmt
from .formatting import hms as _hms



def comparison(results: Results) -> Section:
    summary = stats.summary(results)
    baseline = results.baseline
    test = "corrected paired t-test" if results.run.resampling_correction else "paired t-test"
    table = pd.DataFrame({
        "variant": [f"{n} (reference model)" if n in results.reference_models else n for n in summary["variant"]],
        "regularizers": [r if isinstance(r, str) else "–" for r in summary["regularizers"]],
        f"mean {results.score_name}": summary["mean"], "stdev": summary["stdev"], "min": summary["min"],
        "max": summary["max"],
        "epochs (best)": ["–" if n in results.reference_models else f"{e:.1f} ({b:.1f})"
                          for n, e, b in zip(summary["variant"], summary["mean_epochs"], summary["mean_best_epoch"])],
        "mean train": summary["mean_train"], "gap": summary["gap"],
        f"Δ vs {baseline}": ["baseline" if n == baseline else d for n, d in zip(summary["variant"], summary["mean_difference"])],
        "p": ["" if n == baseline else p for n, p in zip(summary["variant"], summary["p_corrected"])],
        "p (Holm)": ["" if n == baseline else p for n, p in zip(summary["variant"], summary["p_corrected_holm"])],
        "verdict": ["" if n == baseline else v for n, v in zip(summary["variant"], summary["verdict"])],
        "failed": summary["failed"], "total time": [_hms(s) for s in summary["seconds"]],
    })
    note = ("One row per variant, best mean first (highlighted). Regularizers: what each variant trains with, read "
            "from the model it builds (Settings lists it layer by layer). stdev is the population standard deviation "
            "over splits, as in Heaton's notebooks. Epochs: mean epochs trained (mean best epoch). Gap = mean "
            "train score − mean test score (for an error score such as RMSE a negative gap means the test error "
            f"is higher). Δ = the variant minus the baseline variant {baseline} on the same splits; p from the "
            f"{test} below, and Holm-adjusted over the page's {_tested(summary[summary['variant'] != baseline])} "
            f"with the baseline; verdict: better or worse when the Holm-adjusted p is below {stats.ALPHA}, else no evidence.")
    if results.reference_models:
        note += (" Reference models are the experiment's scikit-learn estimators, scored on the same splits in "
                 "the same units: each is fitted on the split's whole training rows (the fit rows plus any "
                 "validation rows, preprocessed as for the networks, target in the networks' training units), "
                 "without epochs or early stopping; the train score is on the fit rows, as for the networks.")
    best = table.iloc[0]["variant"] if summary["mean"].notna().any() else None
    return Section("Comparison of variants", note=note, table=table, highlight=best, digits={"p": 3, "p (Holm)": 3})


def paired_tests(results: Results) -> Section:
    summary = stats.summary(results)
    baseline = results.baseline
    rows = summary[summary["variant"] != baseline]
    if results.run.resampling_correction and results.run.splitter.startswith("Repeated"):
        how = ("The 95% interval and p-value come from the corrected repeated k-fold t-test (Bouckaert and Frank "
               "2004: Nadeau and Bengio's variance (1/(k·r) + n_test/n_train)·s² over the k·r splits of k-fold "
               "cross-validation repeated r times, with k·r − 1 degrees of freedom; a plain paired t-test is "
               "over-confident because splits share training rows);")
    elif results.run.resampling_correction:
        how = ("The 95% interval and p-value come from the Nadeau–Bengio corrected resampled t-test (a plain "
               "paired t-test is over-confident because splits share training rows);")
    else:
        how = (f"The 95% interval and p-value come from a plain paired t-test: this experiment's splitter "
               f"({results.run.splitter}) never lets two splits share only part of their "
               "training rows, so no resampling correction applies;")
    table = pd.DataFrame({
        "variant": rows["variant"], "pairs": rows["pairs"], f"Δ vs {baseline}": rows["mean_difference"],
        "95% CI of Δ": [f"[{_fmt(lo)}, {_fmt(hi)}]" for lo, hi in zip(rows["ci_low"], rows["ci_high"])],
        "p (corrected t)" if results.run.resampling_correction else "p (paired t)": rows["p_corrected"],
        "Holm (t)": rows["p_corrected_holm"], "p (Wilcoxon)": rows["p_wilcoxon"], "Holm (Wilcoxon)": rows["p_wilcoxon_holm"],
        "verdict": rows["verdict"], "P(better)": rows["p_better"], "P(equivalent)": rows["p_equivalent"],
        "P(worse)": rows["p_worse"],
        "wins/losses": [f"{int(w)}/{int(lo)}" if pd.notna(w) else "–" for w, lo in zip(rows["wins"], rows["losses"])],
    })
    pairs = int(rows["pairs"].max()) if len(rows) and rows["pairs"].notna().any() else 0
    note = (f"Each variant against the baseline variant {baseline} on the same splits. {how} the Wilcoxon "
            "signed-rank p-value makes no normality assumption; wins/losses count the splits where the variant "
            f"scored better / worse than the baseline. Holm's adjustment runs over the {_tested(rows)} "
            "of this page, so that the chance of any false 'better' or 'worse' stays at 5%; the verdict reads "
            f"the Holm-adjusted t-test. With {pairs} pairs the Wilcoxon test cannot give a p-value below "
            f"{_fmt(stats.wilcoxon_floor(pairs), 4)} (every split on one side), whatever the differences; the "
            "t-test has no such floor (its p-value is continuous). "
            "A p-value and the three probabilities are missing (–) where the differences do not vary (every split "
            "gave the same difference): no test can be made of that. P(better), P(equivalent) and P(worse) "
            "come from the Bayesian correlated t-test (Benavoli et al., JMLR 2017), with the same variance "
            f"correction, for a region of practical equivalence of ±{_fmt(stats.rope(results), 4)} {results.score_name} "
            "(the experiment's `rope`): the probability that the variant is better than the baseline by more "
            "than that, within it, or worse by more than that.")
    if results.run.training_overlap == "identical":
        note = ("Every split of this experiment trains on the same rows and is scored on the same rows, repeated "
                "with another seed: these p-values measure how much training varies from seed to seed on this one "
                "draw of the data, not how the variants would compare on new data. " + note)
    sizes = stats.by_training_size(results)
    parts = []
    if sizes:
        note = (f"These splits train on {len(sizes)} different numbers of rows ({', '.join(map(str, sizes))}): the "
                "table below pools them, which mixes different questions; the tables under it compare the variants "
                "within each size, Holm over that size's comparisons. " + note)
        for size, part in sizes.items():
            rows_at = stats.summary(part)
            rows_at = rows_at[rows_at["variant"] != baseline]
            parts.append(Section(f"{size} training rows", table=pd.DataFrame({
                "variant": rows_at["variant"], "pairs": rows_at["pairs"], f"Δ vs {baseline}": rows_at["mean_difference"],
                "p": rows_at["p_corrected"], "Holm": rows_at["p_corrected_holm"], "verdict": rows_at["verdict"]}),
                digits={"pairs": 0, "p": 3, "Holm": 3}, csv=f"paired-{size}-rows.csv"))
    return Section(f"Paired comparison with {baseline}", note=note, table=table, subsections=parts,
                   digits={"pairs": 0, "p (corrected t)": 3, "p (paired t)": 3, "p (Wilcoxon)": 3, "Holm (t)": 3,
                           "Holm (Wilcoxon)": 3, "P(better)": 3, "P(equivalent)": 3, "P(worse)": 3})


def tuning(results: Results) -> Section | None:
    """Per tuned variant: what its nested cross-validation chose on each outer split, the
    inner-CV curve, and how stable the choice is."""
    tuned = [v for v in results.variants if v.search is not None]
    if not tuned:
        return None
    picked, curves, steady = tuning_stats.choices(results), tuning_stats.inner_curves(results), tuning_stats.stability(results)
    parts = []
    for variant in tuned:
        mine = picked[picked["variant"] == variant.name]
        along = tuning_stats.axis(variant)
        table = pd.DataFrame({"outer split": mine["split"] + 1, "chosen": mine["chosen"],
                              f"outer {results.score_name}": mine["score"],
                              "the inner rows choose": ["the same" if a else f"{r} (differs)"
                                                        for a, r in zip(mine["agrees"], mine["recomputed"])]})
        labels = [candidate_label(p) for p in variant.search.candidates()]
        figure = figures.tuning_figure(curves[curves["variant"] == variant.name], mine, along, results.score_name, labels)
        row = steady[steady["variant"] == variant.name]
        stable = ""
        if len(row):
            r = row.iloc[0]
            distinct = int(r["distinct choices"])
            stable = (f" The most frequent choice, {r['most frequent']}, was made on {r['share']:.0%} of the "
                      f"{int(r['splits'])} outer splits ({distinct} distinct choice{'s' if distinct != 1 else ''}"
                      + (f"; the choices span {int(r['spread (grid steps)'])} grid steps" if along else "") + ").")
            if along:
                grid = sorted(variant.search.grid[along])
                edges = [(value, side) for value, side in ((grid[0], "smallest"), (grid[-1], "largest"))
                         if (mine[along] == value).any()]
                for value, side in edges:
                    count = int((mine[along] == value).sum())
                    stable += (f" On {count} of {len(mine)} outer splits the choice is the grid's {side} value "
                               f"({value:g}): the best {along} may lie beyond the grid, so a wider grid could do better.")
        if variant.search.method == "halving":
            stable += (" Successive halving scored the candidates it dropped early on fewer inner splits: each point of "
                       "the curve averages the inner splits that candidate saw, and the choice is made among the last "
                       "round's candidates only.")
        parts.append(Section(variant.name, text=f"Searched: {variant.search.describe()}.{stable}", table=table,
                             figure=figure, csv=f"tuning-{_slug(variant.name)}.csv"))
    rounds = len(results.inner)
    note = ("A tuned variant is scored by nested cross-validation: on each outer split every candidate is scored by "
            "an inner K-fold CV of that split's training rows only (each inner split preprocessed on its own training "
            "rows and trained under the experiment's protocol, as an outer split is), one candidate is chosen from the inner scores, retrained on the "
            "outer split's training rows and scored on its test rows: that outer score is what every table of this "
            "page uses. 'The inner rows choose' recomputes the choice from the stored inner scores alone. "
            f"{rounds} inner fits are stored with this run.")
    return Section("Tuned variants: what the inner cross-validation chose", note=note, subsections=parts)


def _slug(name: str) -> str:
    import re

    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "variant"


def _tested(rows: pd.DataFrame) -> str:
    """'7 comparisons', or '5 comparisons that have a p-value (2 without one are left out: …)'."""
    has = rows["p_corrected"].notna()
    text = f"{int(has.sum())} comparison{'s' if has.sum() != 1 else ''}"
    if (~has).any():
        text += (f" that have a p-value ({int((~has).sum())} without one, {', '.join(map(str, rows.loc[~has, 'variant']))}"
                 ", left out)")
    return text


def source_reported(results: Results) -> Section | None:
    rows = results.run.source_results
    if not rows:
        return None
    summary = stats.summary(results).set_index("variant")
    measured = [summary[row["stat"]].get(row.get("variant")) if row.get("stat") and row.get("variant") in summary.index
                else None for row in rows]
    table = pd.DataFrame({"what": [r.get("what", "") for r in rows], "variant here": [r.get("variant", "") for r in rows],
                          "reported": [r.get("reported") for r in rows], "this run": measured,
                          "note": [r.get("note", "") for r in rows]})
    return Section("What the source reported", table=table)


def own_sections(results: Results) -> Sequence[Section]:
    """The experiment's `report_sections`: None is none, one Section is one; one that raises,
    or returns something other than Sections, says why on the page and the rest stands."""
    if results.definition is None:
        return []
    title = "Experiment-specific analysis (report_sections)"
    try:
        made = results.definition.report_sections(results)
    except Exception as exc:  # noqa: BLE001 - reported on the page, the rest of the report stands
        return [Section(title, error=f"{type(exc).__name__}: {exc}")]
    if made is None or isinstance(made, Section):
        return [] if made is None else [made]
    try:
        made = list(made)
    except TypeError:
        made = [made]
    wrong = next((i for i, section in enumerate(made) if not isinstance(section, Section)), None)
    if wrong is None:
        return made
    return [section for section in made if isinstance(section, Section)] + [Section(title, error=(
        f"report_sections() returned {type(made[wrong]).__name__} at position {wrong}; it must return a list of "
        "harness.Section (or None, or one Section)"))]


def failed_splits(results: Results) -> Section | None:
    failed = results.splits[results.splits["status"] != OK]
    if failed.empty:
        return None
    table = pd.DataFrame({"variant": failed["variant"], "split": failed["split"] + 1, "epochs": failed["epochs"],
                          "reason": failed["reason"].fillna("")})
    return Section("Failed splits", error=f"{len(failed)} split(s) failed; they are left out of every mean above.",
                   table=table, row_classes=["failed"] * len(table))


def fold_scores(results: Results) -> Section:
    order = list(stats.summary(results)["variant"])
    figure = figures.score_distribution(results.splits, order, results.score_name)
    return Section("Scores per split", text="" if figure is not None else "No successful splits.", figure=figure,
                   note="Each split's score per variant (box: quartiles over the splits), best mean first.")


def loss_curves(results: Results) -> Section | None:
    curves = {}
    for name in stats.summary(results)["variant"]:
        if name not in results.networks:
            continue
        rows = results.ok(name)
        rows = rows[[bool(c) for c in rows["loss"]]]
        train, val = results.curve(name, "loss"), results.curve(name, "val_loss")
        if train.size:
            stopped = rows["stopped_epoch"] if "stopped_epoch" in rows else [0] * len(rows)
            stops = [len(c) if s else 0 for c, s in zip(rows["loss"], stopped)]
            curves[name] = (train, val, stops)
    if not curves:
        return None
    label = "test (recorded only)" if results.run.training.get("test_curve") else "validation"
    capped = len(curves) > figures.MAX_CURVE_PANELS
    shown = dict(list(curves.items())[:figures.MAX_CURVE_PANELS])
    note = ("Per-epoch training and validation loss, including the penalty term, as Keras reports them: the mean over "
            "splits with a band of ± one standard deviation (an epoch's mean covers the splits still training then); "
            "▼ marks each split's early-stopping epoch (where training stopped; the weights of its best epoch were "
            "kept)." + (f" Only the first {figures.MAX_CURVE_PANELS} variants (best first) are drawn." if capped else ""))
    return Section("Training and validation loss", note=note, subsections=[
        Section("All variants on shared axes", figure=figures.loss_overview(shown, label),
                text="Training loss, validation loss and the generalization gap (validation − training loss) per "
                     "epoch, every variant in its own colour."),
        Section("One panel per variant", figure=figures.loss_curves(shown, label),
                text="Training (dashed) and validation (solid) loss of each variant, on a shared loss axis.")])


def weights(results: Results) -> Section | None:
    """What each regularizer did to the weights: per-layer norms, the distribution of |w|, and
    the first layer's weight per input (harness.stats.weights)."""
    order = [n for n in stats.summary(results)["variant"] if n in results.networks]
    layers = weight_stats.layer_summary(results, order)
    if layers.empty:
        return None
    skipped = weight_stats.skipped_layers(results)
    note = ("From the trained weights of every successful split: Dense layers (2-D kernels), biases excluded."
            + (f" Not analysed (not Dense): {', '.join(skipped)}." if skipped else ""))
    shown = layers.rename(columns={"l1": "L1 norm", "l1_sd": "L1 sd", "l2": "L2 norm", "l2_sd": "L2 sd",
                                   "max_abs": "max |w|", "max_abs_sd": "max |w| sd", "near_zero": "|w| < 1e-3",
                                   "near_zero_sd": "|w| < 1e-3 sd"})
    shown = shown[["variant", "layer", "weights", "splits", "L1 norm", "L1 sd", "L2 norm", "L2 sd", "max |w|", "max |w| sd",
                   "|w| < 1e-3", "|w| < 1e-3 sd"]]
    parts = [Section("Per layer", table=shown, digits={"weights": 0, "splits": 0},
                     text="Each Dense kernel's L1 norm Σ|w|, L2 norm √Σw², largest |w| and share of weights with "
                          "|w| < 0.001: mean and standard deviation over splits.")]
    histogram = figures.magnitude_histograms({n: weight_stats.magnitudes(results, n) for n in order})
    if histogram is not None:
        parts.append(Section("Distribution of |w|", figure=histogram,
                             text="Every Dense kernel weight of every split, as log10 |w|: an L1 penalty piles "
                                  "weights up near zero (a spike on the left), an L2 penalty shrinks the bulk."))
    parts.append(_input_weights(results, order))
    return Section("Weights", note=note, subsections=[p for p in parts if p is not None])


def _input_weights(results: Results, order: Sequence[str]) -> Section | None:
    inputs = weight_stats.input_weights(results, order)
    if inputs.empty:
        return None
    zeroed = weight_stats.zeroed_inputs(inputs, results.baseline)
    text = (f"The first layer's mean |w| over its units for each of the {inputs.shape[1]} inputs (as the network saw "
            "them, after preprocessing), averaged over splits: what the network still uses, as Heaton's Part 5.1 "
            "reads lasso coefficients.")
    if not zeroed.empty:
        text += (f" An input counts as driven to zero when its weight is below {weight_stats.ZEROED_SHARE:g} × the "
                 "same variant's largest input weight (sparsity: a penalty that shrinks every input alike zeroes "
                 "none); the table names them. Scale is the variant's median input weight over the baseline's "
                 f"({results.baseline}): shrinkage, whether or not it is sparse.")
    matrix = inputs.reset_index(names="variant")
    return Section("Weight per input", text=text, figure=figures.input_heatmap(inputs),
                   table=zeroed if not zeroed.empty else None, digits={"zeroed": 0, "kept": 0, "scale": 3},
                   subsections=[Section("Mean |w| per input (every variant × input)", table=matrix, collapsed=True,
                                        csv="input-weights.csv")])


def per_split(results: Results) -> Section:
    order = list(stats.summary(results)["variant"])
    best = order[0] if order else None
    blocks = []
    for name in order:
        rows = stats.heaton_table(results.splits[results.splits["variant"] == name])
        table = pd.DataFrame({"split": [f"#{s}" for s in rows["split"]], "score": rows["score"],
                              "mean score": rows["mean_score"], "stdev": rows["stdev"], "epochs": rows["epochs"],
                              "mean epochs": rows["mean_epochs"], "stopped_epoch": rows["stopped_epoch"],
                              "time": [_hms(s) for s in rows["seconds"]],
                              "status": [st if not r else f"{st}: {r}" for st, r in zip(rows["status"], rows["reason"])]})
        blocks.append(Section(name, table=table, collapsed=True, open=name == best,
                              digits={"score": 6, "mean score": 6, "stdev": 6},
                              row_classes=["" if st == OK else "failed" for st in rows["status"]]))
    return Section("Per-split results (Heaton's columns)", subsections=blocks,
                   note="As Heaton's Part 5.5 prints them: the running mean and population stdev of the scores so "
                        "far, epochs trained, the integer mean of epochs so far, Keras' stopped_epoch (what Heaton's "
                        "notebooks print as epochs: 0-based, and 0 when early stopping never fired), and the split's "
                        "training time.")


def settings(results: Results) -> Section:
    run, training = results.run, results.run.training
    stopping = ("none" if training.patience is None else
                f"patience {training.patience}, min_delta {training.min_delta}, best weights restored")
    items = [("splitter", run.splitter), ("protocol", f"{training.protocol}: {run.protocol_text}"),
             ("epochs (max)", str(training.epochs)), ("batch size", str(training.batch_size)),
             ("optimizer", f"{training.optimizer}, learning rate {training.learning_rate}"),
             ("early stopping", stopping)]
    loss, class_weight = training.get("loss"), training.get("class_weight")  # None for runs stored before them
    items.append(("loss", f"{loss} (the experiment's own)" if loss else "the task's default: cross-entropy for "
                  "classification, mean squared error for regression"))
    if class_weight is not None:
        items.append(("class weights", f"{class_weight} (each training row's loss weighted by its class; validation "
                      "losses and scores unweighted)"))
    if results.data is not None and results.data.sample_weight is not None:
        items.append(("sample weights", "each training row's loss weighted by the data's sample weight "
                      "(validation losses and scores unweighted)"))
    if training.get("standardize_target") is not None:  # None: classification, or a run from before it existed
        items.append(("target", "z-scored per training split, scored in raw units" if training.standardize_target
                      else "raw"))
    items += [("seed", f"{training.seed} (" + ("variants share each split's seed: paired design"
                                               if training.paired_seeds else "seed per variant and split") + ")"),
              ("preprocessing", f"{run.preprocessor}, fitted on each split's training rows only"),
              ("baseline", f"{results.baseline}: every other variant is compared with it")]
    if run.planned:
        found = (f"; {run.found_done} of them were found done in the results store (trained by an earlier run of "
                 "the same jobs: same data, settings, seeds and engine) and not trained again") if run.found_done else ""
        items.append(("jobs", f"{run.planned} (variant or reference model × split){found}"))
    items.append(("libraries", ", ".join(f"{k} {v}" for k, v in run.versions.items())))
    return Section("Settings", items=items, subsections=_settings_tables(results))


def _settings_tables(results: Results) -> list[Section]:
    run = results.run
    variants = pd.DataFrame([{"variant": v.name, "regularizers": _described(results, v.name, "family"),
                              "what regularizes it": _described(results, v.name, "describe"),
                              "the variant asked for": _asked(v)} for v in run.variants])
    parts = [Section("Variants", table=variants,
                     note="What regularizes each variant is read from the Keras model and optimizer it builds: every "
                          "L1/L2 penalty with its layer and strength, every dropout and noise layer, the optimizer's "
                          "weight decay. The last column is how the variant was declared.")]
    if run.reference_models:
        parts.append(Section("Reference models", table=pd.DataFrame(
            {"reference model": [r.name for r in run.reference_models],
             "estimator": [r.estimator for r in run.reference_models]}),
            note="Cloned for every split and fitted on its whole preprocessed training rows, in the networks' "
                 "training units; scored like the networks."))
    models = [Section(name, preformatted=text, collapsed=True) for name, text in run.model_summaries.items()]
    parts.append(Section("Models", subsections=models))
    return parts


def _described(results: Results, name: str, how: str) -> str:
    found = results.regularization(name)
    if found is None:
        return "not recorded (a run stored before the harness read it from the model)"
    return found.family if how == "family" else found.describe()


def _asked(variant: Any) -> str:
    fields = [f"{k} {v:g}" for k, v in (("l1", variant.l1), ("l2", variant.l2), ("dropout", variant.dropout),
                                        ("weight decay", variant.weight_decay)) if v]
    return ", ".join(fields + [f"{k}={v}" for k, v in variant.settings.items()]) or "nothing"


#: the experiment page, in order
SECTIONS: list[SectionBuilder] = [comparison, paired_tests, tuning, source_reported, own_sections, failed_splits,
                                  fold_scores, loss_curves, weights, per_split, settings]
