"""Scores over training seeds: the spread and the verdict rule, against numbers worked by hand."""

import math
import statistics
from itertools import combinations

import pytest

from doggan.metrics.spread import aggregate, beats, compact, separation_p, spread


def test_spread_is_the_sample_mean_and_std_with_the_values():
    values = [2.0, 4.0, 9.0]
    assert spread(values) == {"n": 3, "mean": 5.0, "std": pytest.approx(statistics.stdev(values)), "min": 2.0,
                              "max": 9.0, "values": values}
    assert spread([3.5])["std"] is None  # one seed has no spread, not a spread of 0


@pytest.mark.parametrize("m, n", [(3, 3), (2, 2), (3, 2), (5, 2), (4, 4)])
def test_separation_p_counts_the_orderings_that_put_every_value_of_a_below_b(m, n):
    """Under no difference every assignment of the m + n ranks to A is equally likely: count them."""
    ranks = range(m + n)
    below = [c for c in combinations(ranks, m) if max(c) < min(set(ranks) - set(c))]
    assert len(below) == 1
    assert separation_p(m, n) == pytest.approx(len(below) / math.comb(m + n, m))


def test_a_variant_beats_another_only_when_all_its_seeds_do_at_p_005():
    assert beats([1.0, 1.1, 1.2], [1.3, 1.5, 2.0])  # 3 against 3, apart: p = 1/20
    assert not beats([1.0, 1.1, 1.4], [1.3, 1.5, 2.0])  # one seed of A worse than one of B
    assert not beats([1.0, 1.1], [1.3, 1.5])  # 2 against 2: p = 1/6, whatever the gap
    assert not beats([1.0, 1.1, 1.2], [5.0, 6.0])  # 3 against 2: p = 1/10
    assert beats([1.0, 1.1, 1.2, 1.0, 0.9], [5.0, 6.0])  # 5 against 2: p = 1/21
    assert beats([0.6, 0.7, 0.65], [0.3, 0.2, 0.1], key="recall")  # higher is better
    assert not beats([0.6, 0.7, 0.65], [0.3, 0.2, 0.1], key="fid")


def test_aggregate_ranks_by_mean_gives_verdicts_by_the_rule_and_the_resampling_spread():
    runs = {"a": {0: {"fid": 2.0}, 1: {"fid": 2.4}, 2: {"fid": 2.2}},
            "b": {0: {"fid": 3.0}, 1: {"fid": 2.5}, 2: {"fid": 3.5}},
            "c": {0: {"fid": 1.0}, 1: {"fid": 6.0}, 2: {"fid": 2.3}}}  # the best seed and the worst: no verdict
    result = aggregate(runs, {"a": [{"fid": 2.1}, {"fid": 1.9}]})
    assert result["ranking"] == ["a", "b", "c"]  # means 2.2, 3.0, 3.1
    assert result["verdicts"] == [{"better": "a", "worse": "b", "p": 0.05}]
    assert result["variants"]["a"]["resampled"]["fid"]["values"] == [2.0, 2.1, 1.9]  # seed 0's own draw first
    assert result["variants"]["a"]["fid"]["mean"] == pytest.approx(2.2)
    assert "resampled" not in result["variants"]["b"]
    assert compact(result)["b"] == {"fid_mean": 3.0, "fid_std": 0.5, "seeds": 3}
