"""Reciprocal rank fusion on ids: pure, deterministic, never mutating its inputs."""

from __future__ import annotations

import pytest

from ragline.adapters.index.fusion import reciprocal_rank_fusion, term_coverage_bonus


def test_ids_ranked_well_by_both_rankers_come_first() -> None:
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1, 4]], k=60)
    assert [key for key, _ in fused] == [1, 3, 2, 4]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)


def test_inputs_are_not_mutated_and_results_are_new_objects() -> None:
    keyword, vector = [5, 6], [6, 7]
    fused = reciprocal_rank_fusion([keyword, vector])
    assert keyword == [5, 6] and vector == [6, 7]
    fused.clear()
    assert reciprocal_rank_fusion([keyword, vector])


def test_ties_keep_first_seen_order_and_limit_applies() -> None:
    fused = reciprocal_rank_fusion([["a", "b"], ["c", "d"]], limit=3)
    assert [key for key, _ in fused] == ["a", "c", "b"]


def test_a_ranker_repeating_an_id_counts_it_once() -> None:
    fused = reciprocal_rank_fusion([[1, 1, 2]])
    assert fused == [(1, pytest.approx(1 / 61)), (2, pytest.approx(1 / 63))]


def test_empty_rankings_fuse_to_nothing() -> None:
    assert reciprocal_rank_fusion([[], []]) == []


def test_term_bonus_is_full_for_every_term_and_small_for_one_of_many() -> None:
    # 100 passages; four rare terms (2 passages each): passage 1 holds all, passage 2 one
    terms = [(2, {1, 2}), (2, {1}), (2, {1}), (2, {1})]
    bonus = term_coverage_bonus(terms, 100, 0.3, power=3)
    assert bonus[1] == pytest.approx(0.3)
    assert bonus[2] == pytest.approx(0.3 / 64)  # a quarter of the weight, cubed


def test_term_bonus_weighs_rare_terms_and_ignores_common_ones() -> None:
    # "worked" in 40 of 100 passages, "terraform" in 5, "the" in 80 (weighs nothing)
    terms = [(40, {1, 2, 3}), (5, {3, 4}), (80, {1, 4, 5})]
    bonus = term_coverage_bonus(terms, 100, 1.0)
    assert bonus[3] == pytest.approx(1.0) and 5 not in bonus
    assert bonus[4] > 0.5 > bonus[1] == bonus[2]  # the rare term carries most of the weight
    assert term_coverage_bonus([(60, {1}), (90, {2})], 100, 1.0) == {}  # nothing selective
    assert term_coverage_bonus([], 100, 1.0) == {}
