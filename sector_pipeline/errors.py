"""Errors the pipeline raises on bad configuration or bad input; each message names what was wrong."""


class SectorPipelineError(Exception):
    """Base class of the pipeline's own errors."""


class ConfigurationError(SectorPipelineError):
    """A setting (source name, universe file, path) is invalid; raised when definitions load."""


class SourceError(SectorPipelineError):
    """A data source could not deliver (network down, empty result, unreadable file)."""


class MissingDataError(SourceError):
    """A source returned no rows for tickers and sessions where rows were expected."""

    def __init__(self, missing: dict[str, list], what: str = "prices"):
        self.missing = missing
        parts = []
        for ticker, dates in sorted(missing.items()):
            shown = ", ".join(str(d) for d in dates[:5])
            more = f" and {len(dates) - 5} more" if len(dates) > 5 else ""
            parts.append(f"{ticker} ({len(dates)} session(s): {shown}{more})")
        super().__init__(f"missing {what} for {len(missing)} ticker(s): " + "; ".join(parts))
