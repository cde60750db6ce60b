"""The product's shared words, defined once: the sentiment dimensions, the alert tiers, the leaders' cut-off.

Every module that needs one of these imports it from here (docs/glossary.md defines each quantity).
"""

from __future__ import annotations

# The four axes of seed 004's sentiment indicator (seed 004 = the source article in ../shared/seeds/ on the
# S&P 500 sector rotation sentiment indicator), in its order. Sector characteristics, sentiment scores and the
# macro regime all use them.
DIMENSIONS: tuple[str, ...] = ("cycle", "rates", "inflation", "risk")
DIMENSION_LABELS: dict[str, str] = {"cycle": "Economic cycle", "rates": "Interest rate expectations",
                                    "inflation": "Inflation expectations", "risk": "Risk appetite"}

# Alert tiers, most urgent first (seed 004).
TIERS: tuple[str, ...] = ("CRITICAL", "HIGH", "MEDIUM")
TIER_ORDER: dict[str, int] = {tier: i for i, tier in enumerate(TIERS)}


def leader_count(ranked: int) -> int:
    """How many of `ranked` sectors lead (and how many lag): the top third, at least one (3 of 9, 10 or 11).

    The sentiment indicator weighs the leaders against the laggards, the flight-to-safety alert looks at the
    leaders, the allocation rule moves the top and bottom thirds, and the market overview names the leaders.
    """
    return max(1, ranked // 3)


def leader_count_expr(ranked: "pl.Expr") -> "pl.Expr":
    """leader_count on a column of ranked-sector counts."""
    import polars as pl

    return (ranked // 3).clip(lower_bound=1).cast(pl.Int64)
