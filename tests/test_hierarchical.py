"""The Bayesian hierarchical model across data sets, checked against baycomp's own output
(tests/fixtures/baycomp_hierarchical.json, made by baycomp 1.0.3 with pystan 3.10.0 by the
script beside it), and the sentences the page generates from it."""
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from harness.stats.hierarchical import hierarchical_test

FIXTURE = Path(__file__).parent / "fixtures" / "baycomp_hierarchical.json"


def cases():
    return json.loads(FIXTURE.read_text())


@pytest.mark.parametrize("case", cases(), ids=lambda c: c["name"])
def test_the_posterior_matches_baycomps_on_fixed_inputs(case):
    """baycomp's three probabilities (`two_on_multiple`, sampled by Stan) within Monte Carlo
    error (Stan drew 40,000, this 10,000), and the posterior means of δ₀ and of every data set's
    δ_i (from the same Stan model) within a few percent of the spread of the data sets."""
    x, y = np.array(case["x"]), np.array(case["y"])
    folds = x.shape[1] / case["runs"]
    found = hierarchical_test(list(y - x), case["rope"], 1 / folds)  # baycomp's rho = 1 / folds
    assert [found.p_worse, found.p_equivalent, found.p_better] == pytest.approx(case["baycomp"], abs=0.025)
    spread = float(np.std(case["delta_means"]))
    assert found.mean == pytest.approx(case["delta0_mean"], abs=0.05 * spread)
    assert found.shrunk == pytest.approx(np.array(case["delta_means"]), abs=0.05 * spread)
    # shrinkage: the estimates are less spread than the data sets' own means
    assert np.std(found.shrunk) < np.std((y - x).mean(axis=1))
    assert found.mean_low < found.mean < found.mean_high
    assert np.all(found.shrunk_low < found.shrunk) and np.all(found.shrunk < found.shrunk_high)


def test_the_sampler_is_seeded_and_takes_data_sets_of_different_lengths():
    rng = np.random.default_rng(0)
    rows = [rng.normal(1.0, 1.0, n) for n in (10, 10, 5, 20)]
    first, again = hierarchical_test(rows, 0.5, 0.2, draws=300), hierarchical_test(rows, 0.5, 0.2, draws=300)
    assert first.p_better == again.p_better and np.array_equal(first.shrunk, again.shrunk)
    assert len(first.shrunk) == 4 and sum(first.mass) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        hierarchical_test(rows[:1], 0.5, 0.2)


def test_each_hierarchical_sentence_quotes_the_numbers_of_its_row():
    from harness.report.across import DECIDED, hierarchical_sentence

    decided = {"variant": "L1", "datasets": 12, "p_worse": 0.004, "p_equivalent": 0.021, "p_better": 0.975,
               "mean": 2.3456, "mean_low": 0.9, "mean_high": 3.81}
    sentence = hierarchical_sentence(decided)
    assert [float(v) for v in re.findall(r"[-+]?\d+\.\d+", sentence)][:6] == [0.975, 0.021, 0.004, 2.35, 0.90, 3.81]
    assert "over 12 data sets" in sentence and "decided" in sentence and "better than the baseline" in sentence
    undecided = {**decided, "p_better": DECIDED - 0.01, "p_equivalent": 0.035}
    assert "undecided" in hierarchical_sentence(undecided)
    assert "not computed" in hierarchical_sentence({"variant": "L1", "datasets": 1, "p_better": math.nan})
