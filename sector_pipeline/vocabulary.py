"""The product's shared words, defined once: the sentiment dimensions, the alert tiers, the leaders' cut-off.

Every module that needs one of these imports it from here (docs/glossary.md defines each quantity).

"Seed article 000", "003" and "004" in comments and docs name the three source articles of the product,
in ../shared/seeds/ beside the repository (SPEC.md turns them into one product):
  seed article 000  AI-driven sector rotation heatmaps: the heatmaps, the MCP tools, prediction_strength and
                    the dynamic allocation rule;
  seed article 003  the Sector Rotation Index: four 0-100 component scores summed to a 0-400 total;
  seed article 004  the S&P 500 sector rotation sentiment indicator: composite rankings, the four sentiment
                    dimensions in [-1, +1], their readings and the three alert tiers.
They are not the synthetic market's random seed (SECTOR_PIPELINE_SEED, 42 by default), which is a number
fed to its random generator.
"""

from __future__ import annotations

# The four axes of seed article 004's sentiment indicator, in its order. Sector characteristics, sentiment
# scores and the macro regime all use them.
DIMENSIONS: tuple[str, ...] = ("cycle", "rates", "inflation", "risk")
DIMENSION_LABELS: dict[str, str] = {"cycle": "Economic cycle", "rates": "Interest rate expectations",
                                    "inflation": "Inflation expectations", "risk": "Risk appetite"}
# A sentiment score's band: above +band, below -band, or in between (SentimentConfig.band).
BANDS: tuple[str, ...] = ("positive", "neutral", "negative")
# The two groups of sectors whose characteristics make a sentiment score.
SENTIMENT_GROUPS: tuple[str, ...] = ("leader", "laggard")

# The dimensions' names in the marts (marts.sentiment.dimension, the columns of marts.sentiment_wide and
# marts.market_overview): spelled out for readers who never saw the seed articles (docs/marts.md, Changes).
MART_DIMENSIONS: dict[str, str] = {"cycle": "economic_cycle", "rates": "interest_rates", "inflation": "inflation",
                                   "risk": "risk_appetite"}

# Alert tiers, most urgent first (seed article 004), and the alert types of each.
TIERS: tuple[str, ...] = ("CRITICAL", "HIGH", "MEDIUM")
TIER_ORDER: dict[str, int] = {tier: i for i, tier in enumerate(TIERS)}
ALERT_TYPES: tuple[str, ...] = ("extreme_reading", "flight_to_safety", "regime_change", "rotation_velocity")

# Relative rotation graphs: the four quadrants in their usual clockwise order, and the two observation
# frequencies (sessions, ISO weeks).
QUADRANTS: tuple[str, ...] = ("leading", "weakening", "lagging", "improving")
RRG_FREQUENCIES: tuple[str, ...] = ("daily", "weekly")
# What a member stock's rotation is measured against: the benchmark, or its own sector's series.
RRG_REFERENCES: tuple[str, ...] = ("benchmark", "sector")


def leader_count(ranked: int) -> int:
    """How many of `ranked` sectors lead (and how many lag): the top third, at least one (3 of 9, 10 or 11).

    The sentiment indicator weighs the leaders against the laggards, the flight-to-safety alert looks at the
    leaders, the allocation rule moves the top and bottom thirds, and the market overview names the leaders.
    """
    return max(1, ranked // 3)


def leader_count_expr(ranked: "pl.Expr") -> "pl.Expr":  # noqa: F821 (Polars is imported only when used)
    """leader_count on a column of ranked-sector counts."""
    import polars as pl

    return (ranked // 3).clip(lower_bound=1).cast(pl.Int64)


# The states of an alert's webhook delivery (signals.alert_outbox, sector_pipeline/notify.py).
PENDING = "pending"
DELIVERED = "delivered"
TOO_OLD = "not sent: too old"
WITHDRAWN = "withdrawn"
DELIVERY_STATES: tuple[str, ...] = (PENDING, DELIVERED, TOO_OLD, WITHDRAWN)
