"""Grouping helpers: syndication keys, rewrite similarity, stems, and pool clusters found through the index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.story.cluster import Cluster, ClusterIndex, best_cluster, content_words, similarity, stem, syndication_key

T0 = datetime(2026, 2, 26, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("title", "key"),
    [
        ("Pentagon designates Anthropic - Reuters", "pentagon designates anthropic"),
        ("Pentagon designates Anthropic | The Verge", "pentagon designates anthropic"),
        ("Pentagon designates Anthropic — Axios", "pentagon designates anthropic"),
        ("PENTAGON designates Anthropic!", "pentagon designates anthropic"),
        ("Pentagon designates “Anthropic”", "pentagon designates anthropic"),
        ("Supply-chain risk: what now", "supply chain risk what now"),  # a hyphen is not an outlet suffix
    ],
)
def test_syndication_key_drops_outlet_suffix_case_and_punctuation(title: str, key: str) -> None:
    assert syndication_key(title) == key


def test_a_long_tail_after_a_dash_is_part_of_the_title() -> None:
    title = "Anthropic answers - and the Pentagon says it will not wait for the company to change its mind"
    assert syndication_key(title).endswith("change its mind")


@pytest.mark.parametrize(
    ("a", "b", "alike"),
    [
        (
            "Pentagon designates Anthropic a supply chain risk",
            "Anthropic designated a supply chain risk by the Pentagon",
            True,
        ),
        (
            "Pentagon designates Anthropic a supply chain risk",
            "Anthropic releases a new Claude model for coders",
            False,
        ),
    ],
)
def test_similarity_separates_rewrites_from_other_stories(a: str, b: str, alike: bool) -> None:
    assert (similarity(syndication_key(a), syndication_key(b)) >= 0.8) is alike


@pytest.mark.parametrize(("words", "same"), [(["sues", "sued", "suing"], True), (["lawsuit", "lawsuits"], True)])
def test_stem_maps_inflected_forms_together(words: list[str], same: bool) -> None:
    assert (len({stem(w) for w in words}) == 1) is same


def test_content_words_skip_stopwords_and_keep_surface_forms() -> None:
    assert content_words("The judge said Anthropic's lawsuit will proceed") == (
        ("judg", "judge"),
        ("anthropic", "anthropic"),
        ("lawsuit", "lawsuit"),
        ("proceed", "proceed"),
    )


def _cluster(cid: str, title: str, words: list[str], at: datetime) -> Cluster:
    cluster = Cluster(cid, title, at.timestamp(), at.timestamp())
    cluster.add([(stem(w), w) for w in words], f"{cid}.test", at, "ordinary", title)
    return cluster


def test_best_cluster_needs_two_shared_new_words_or_a_similar_title() -> None:
    lawsuit = _cluster("c1", "anthropic sues pentagon", ["lawsuit", "judge", "court"], T0)
    hearing = _cluster("c2", "senate hearing on ai", ["senate", "hearing"], T0 + timedelta(hours=1))
    clusters = {"c1": lawsuit, "c2": hearing}
    index = ClusterIndex(clusters.values())
    two_shared = {stem("lawsuit"), stem("judge")}
    assert best_cluster(clusters, index, "x", "anthropic files lawsuit before judge", two_shared, 0.6) == "c1"
    one_shared = {stem("senate")}
    assert best_cluster(clusters, index, "y", "budget talks stall", one_shared, 0.6) is None
    assert best_cluster(clusters, index, "z", "senate hearing on ai safety", one_shared, 0.6) == "c2"


@pytest.mark.parametrize(
    ("title", "novel", "joins"),
    [
        # two shared new words and one of them in the item's headline: the same event
        ("northwind files lawsuit over terminal data demand", {"lawsuit", "demand", "judg"}, True),
        # two shared new words, neither in the item's headline: background both summaries talk about
        ("northwind freight ceo says terminal data is theirs", {"ceo", "demand", "judg"}, False),
        # one shared word in both headlines and a similar title: the same event
        ("northwind lawsuit over terminal data", {"lawsuit"}, True),
        # one shared word, in the cluster's summaries only, title similar through the story's own words
        ("northwind freight customers over terminal data", {"customer"}, False),
    ],
)
def test_an_item_joins_a_cluster_only_when_a_headline_word_of_the_event_is_shared(
    title: str, novel: set[str], joins: bool
) -> None:
    lawsuit = Cluster("c1", "northwind freight sues over terminal data lawsuit", T0.timestamp(), T0.timestamp())
    words = ["sues", "lawsuit", "demand", "judge", "customers"]  # sues, lawsuit: headline; the rest: summary
    lawsuit.add([(stem(w), w) for w in words], "a.test", T0, "ordinary", lawsuit.title)
    assert lawsuit.heads == {stem("sues"), stem("lawsuit")}
    clusters = {"c1": lawsuit}
    stems = {stem(w) for w in novel}
    assert (best_cluster(clusters, ClusterIndex(clusters.values()), "k", title, stems, 0.6) == "c1") is joins


def test_cluster_headline_words_are_rebuilt_the_same_after_a_json_round_trip() -> None:
    cluster = _cluster("c1", "judge hears anthropic lawsuit", ["lawsuit", "judge", "court"], T0)
    assert Cluster.from_json(cluster.to_json()).heads == cluster.heads == {stem("lawsuit"), stem("judge")}


def test_a_syndicated_copy_joins_its_cluster_without_shared_words() -> None:
    cluster = _cluster("c1", "anthropic sues pentagon", ["lawsuit"], T0)
    index = ClusterIndex([cluster])
    assert (
        best_cluster({"c1": cluster}, index, "anthropic sues pentagon", "anthropic sues pentagon", set(), 0.6) == "c1"
    )


def test_removed_clusters_are_no_longer_candidates() -> None:
    cluster = _cluster("c1", "anthropic sues pentagon", ["lawsuit", "judge"], T0)
    index = ClusterIndex([cluster])
    index.remove(cluster)
    assert index.candidates({stem("lawsuit")}) == {}
    assert index.by_key("anthropic sues pentagon") is None


def test_cluster_counts_outlets_inside_the_window_only() -> None:
    cluster = _cluster("c1", "t", ["lawsuit"], T0)
    cluster.add([("lawsuit", "lawsuit")], "b.test", T0 + timedelta(hours=13), "ordinary", "t2")
    cluster.add([("lawsuit", "lawsuit")], "c.test", T0 + timedelta(hours=14), "ordinary", "t3")
    assert cluster.independent_within(T0 + timedelta(hours=14), timedelta(hours=12)) == 2


def test_cluster_counts_outlets_claimed_inside_one_feed_document_once() -> None:
    cluster = Cluster("c1", "t", T0.timestamp(), T0.timestamp())
    for outlet in ("a.test", "b.test", "c.test"):
        cluster.add([("lawsuit", "lawsuit")], outlet, T0, "ordinary", f"t-{outlet}", "search@2026-02-27T10:00")
    assert cluster.independent_within(T0, timedelta(hours=12)) == 1
    cluster.add([("lawsuit", "lawsuit")], "d.test", T0, "ordinary", "t-d", "wire@2026-02-27T10:00")
    assert cluster.independent_within(T0, timedelta(hours=12)) == 2


def test_cluster_json_round_trips() -> None:
    cluster = _cluster("c1", "anthropic sues pentagon", ["lawsuit", "judge"], T0)
    assert Cluster.from_json(cluster.to_json()) == cluster
