"""Statistics, computed from stored results (`harness.core.Results`) alone: every table an
experiment's page, the pages across data sets and `harness.run(...)` show.

- `page`: the summary per variant joined with its paired comparison against the baseline
  (`summary`), and the `comparison` and `paired` tables `harness.run(...)` returns;
- `summary`: per-variant means and spreads, Heaton's running table;
- `significance`: the corrected resampled t-test, the Wilcoxon test, the Bayesian correlated t-test,
  Holm's adjustment and the verdict;
- `across`: which runs compare across data sets, ranks, the Friedman and Nemenyi tests;
- `weights`: what a regularizer did to the weights.
The report renders what these compute; it computes nothing of its own.
"""
from .page import by_training_size, comparison, headline, paired, reference_ratios, rope, summary
from .significance import (ALPHA, bayesian_correlated_ttest, benjamini_hochberg, corrected_paired_ttest, default_rope, holm, paired_comparison,
                     verdict, wilcoxon_floor, wilcoxon_p)
from .summary import heaton_table, pooled_rmse, pstdev, variant_summary
from .weights import kernel_arrays, split_kernels

__all__ = ["ALPHA", "bayesian_correlated_ttest", "benjamini_hochberg", "by_training_size", "comparison", "corrected_paired_ttest", "default_rope", "headline",
           "heaton_table", "holm", "kernel_arrays", "paired", "paired_comparison", "pooled_rmse", "pstdev",
           "reference_ratios", "rope", "split_kernels", "summary", "variant_summary", "verdict", "wilcoxon_floor", "wilcoxon_p"]
