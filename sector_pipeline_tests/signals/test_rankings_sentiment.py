import datetime as dt
import statistics

import polars as pl
import pytest

from sector_pipeline.signals.config import RankingConfig
from sector_pipeline.signals.rankings import rank_sectors
from sector_pipeline.signals.sentiment import sentiment_contributions, sentiment_scores

D = dt.date(2024, 3, 1)


def features_frame(rows: dict[str, tuple[float, float, float]], warming=(), day=D) -> pl.LazyFrame:
    return pl.DataFrame([
        {"date": day, "ticker": t, "relative_strength_change_5d": a, "relative_strength_change_20d": b,
         "relative_strength_change_60d": c, "is_warming_up": t in warming}
        for t, (a, b, c) in rows.items()
    ]).lazy()


def test_composite_is_the_weighted_mean_of_cross_sectional_zscores():
    rows = {"A": (0.01, 0.02, 0.05), "B": (0.00, 0.01, 0.00), "C": (-0.01, -0.03, -0.02), "W": (0.5, 0.5, None)}
    out = rank_sectors(features_frame(rows, warming={"W"}), sectors=list(rows)).collect()
    expected = {}
    for k, i in ((5, 0), (20, 1), (60, 2)):
        xs = [rows[t][i] for t in "ABC"]
        mean, std = statistics.mean(xs), statistics.stdev(xs)
        for t in "ABC":
            expected[t] = expected.get(t, 0.0) + RankingConfig().weights[k] * (rows[t][i] - mean) / std
    got = dict(out.select("ticker", "composite_score").rows())
    for t in "ABC":
        assert got[t] == pytest.approx(expected[t] / 1.0, rel=1e-12)
    assert dict(out.select("ticker", "rank").rows()) == {"A": 1, "B": 2, "C": 3, "W": None}
    assert out.filter(ticker="W").item(0, "is_ranked") is False and out.item(0, "ranked_sectors") == 3


def test_ranks_are_a_permutation_even_with_ties():
    rows = {t: (0.01, 0.01, 0.01) for t in "QPONM"}
    out = rank_sectors(features_frame(rows), sectors=list(rows)).collect()
    assert sorted(out.get_column("rank").to_list()) == [1, 2, 3, 4, 5]
    assert out.get_column("composite_score").to_list() == [0.0] * 5
    assert dict(out.select("ticker", "rank").rows())["M"] == 1  # ties broken by ticker


CHARS = pl.DataFrame({
    "ticker": ["CYC", "MID", "DEF", "X1", "X2", "X3"],
    "cycle": [1.0, 0.0, -1.0, 0.5, 0.2, -0.4],
    "rates": [0.0] * 6, "inflation": [0.0] * 6, "risk": [0.8, 0.0, -0.9, 0.1, 0.0, -0.2],
})


def rankings_frame(order: list[str], day=D) -> pl.LazyFrame:
    n = len(order)
    return pl.DataFrame({"date": [day] * n, "ticker": order, "rank": list(range(1, n + 1)),
                         "ranked_sectors": [n] * n, "is_ranked": [True] * n},
                        schema_overrides={"rank": pl.Int32, "ranked_sectors": pl.Int32}).lazy()


def test_score_is_half_the_gap_between_weighted_leaders_and_laggards():
    # 6 ranked sectors -> groups of 2: leaders CYC (w2), X1 (w1); laggards DEF (w2, last), X3 (w1)
    contributions = sentiment_contributions(rankings_frame(["CYC", "X1", "MID", "X2", "X3", "DEF"]), CHARS)
    scores = sentiment_scores(contributions, tickers=CHARS["ticker"]).collect()
    cycle = scores.filter(dimension="cycle").row(0, named=True)
    leaders = (2 * 1.0 + 1 * 0.5) / 3
    laggards = (2 * -1.0 + 1 * -0.4) / 3
    assert cycle["score"] == pytest.approx((leaders - laggards) / 2, rel=1e-12)  # 0.8167
    assert cycle["band"] == "positive" and "overweight cyclicals" in cycle["interpretation"]
    assert cycle["top_contributors"].startswith("CYC 0.333, DEF 0.333")
    assert scores.filter(dimension="rates").item(0, "band") == "neutral"
    total = contributions.collect().group_by("dimension").agg(pl.col("contribution").sum())
    assert dict(total.rows())["cycle"] == pytest.approx(cycle["score"], rel=1e-12)


def test_reversed_ranking_reverses_every_score():
    up = sentiment_scores(sentiment_contributions(rankings_frame(["CYC", "X1", "MID", "X2", "X3", "DEF"]), CHARS),
                          tickers=CHARS["ticker"])
    down = sentiment_scores(sentiment_contributions(rankings_frame(["DEF", "X3", "X2", "MID", "X1", "CYC"]), CHARS),
                            tickers=CHARS["ticker"])
    a, b = up.collect(), down.collect()
    assert a.get_column("score").to_list() == pytest.approx([-x for x in b.get_column("score").to_list()])
    risk = b.filter(dimension="risk").row(0, named=True)
    assert risk["band"] == "negative" and risk["interpretation"] == "Risk-off: flight to quality"


def test_extreme_characteristics_reach_the_bounds_and_never_exceed_them():
    chars = pl.DataFrame({"ticker": list("ABCDEF"), "cycle": [1.0, 1.0, 0.0, 0.0, -1.0, -1.0],
                          "rates": [1.0] * 6, "inflation": [-1.0] * 6, "risk": [0.0] * 6})
    scores = sentiment_scores(sentiment_contributions(rankings_frame(list("ABCDEF")), chars),
                              tickers=chars["ticker"]).collect()
    got = dict(scores.select("dimension", "score").rows())
    assert got["cycle"] == pytest.approx(1.0) and got["rates"] == pytest.approx(0.0)
    assert got["inflation"] == pytest.approx(0.0) and got["risk"] == 0.0


def test_a_single_ranked_sector_gives_no_score():
    out = sentiment_scores(sentiment_contributions(rankings_frame(["CYC"]), CHARS), tickers=CHARS["ticker"]).collect()
    assert out.is_empty()


def test_one_date_alone_equals_that_date_in_the_whole_history(realdata_dir, universe):
    """A nightly run computes one date; a backfill computes it among thousands: the bits must not differ.

    (Polars divides by a constant column through its reciprocal and may regroup horizontal sums: the stages
    use exact_ratio and ordered_sum so that neither depends on how many dates a frame holds.)
    """
    from sector_pipeline.signals.features import compute_features
    from sector_pipeline.signals.sri import sector_rotation_index
    from sector_pipeline_tests.signals.test_features import as_staging

    raw = pl.read_csv(realdata_dir / "prices.csv", try_parse_dates=True).with_columns(source=pl.lit("csv"))
    features = compute_features(as_staging(raw).lazy(), benchmark="SPY").collect()
    sectors = [s.ticker for s in universe.sectors]
    chars = universe.characteristics()
    rankings = rank_sectors(features.lazy(), sectors=sectors).collect()
    contributions = sentiment_contributions(rankings.lazy(), chars).collect()
    scores = sentiment_scores(contributions.lazy(), tickers=sectors).collect()
    regime = pl.DataFrame({"date": features.get_column("date").unique()}).join(
        pl.DataFrame({"dimension": ["cycle", "rates", "inflation", "risk"], "macro_score": [0.3, -0.2, 0.1, 0.45]}),
        how="cross")
    sri = sector_rotation_index(features.lazy(), rankings.lazy(), regime.lazy(), chars).collect()
    days = features.get_column("date").unique().sort()
    for day in days.gather_every(97).to_list():
        one = pl.col("date") == day
        assert rank_sectors(features.filter(one).lazy(), sectors=sectors).collect().equals(rankings.filter(one))
        c = sentiment_contributions(rankings.filter(one).lazy(), chars).collect()
        assert c.equals(contributions.filter(one)), day
        assert sentiment_scores(c.lazy(), tickers=sectors).collect().equals(scores.filter(one)), day
        alone = sector_rotation_index(features.filter(one).lazy(), rankings.filter(one).lazy(),
                                      regime.filter(one).lazy(), chars).collect()
        assert alone.equals(sri.filter(one)), day
