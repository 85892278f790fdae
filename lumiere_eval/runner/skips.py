"""How many videos a run left out, against the fraction the user accepts: said loudly when exceeded."""
from __future__ import annotations

import sys

from lumiere_eval.limits import DEFAULT_MAX_SKIPPED_FRACTION


def skip_report(skipped: list[dict], total: int, max_fraction: float = DEFAULT_MAX_SKIPPED_FRACTION) -> dict:
    """`{"count", "of", "fraction", "max_fraction", "exceeded"}` for `skipped` out of `total` videos."""
    fraction = len(skipped) / total if total else 0.0
    return {"count": len(skipped), "of": total, "fraction": fraction, "max_fraction": max_fraction,
            "exceeded": fraction > max_fraction}


def warning_text(report: dict) -> str | None:
    """The warning for a run that skipped more than it may, else None."""
    if not report.get("exceeded"):
        return None
    return (f"WARNING: {report['count']} of {report['of']} videos ({report['fraction']:.1%}) were skipped, more "
            f"than the {report['max_fraction']:.1%} allowed (--max-skipped-fraction): the numbers describe a "
            "smaller set than planned; see skipped.json")


def warn_if_exceeded(report: dict) -> None:
    """Print the warning on stderr when the skipped fraction is over the limit."""
    text = warning_text(report)
    if text:
        print(text, file=sys.stderr)
