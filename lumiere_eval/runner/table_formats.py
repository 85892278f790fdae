"""The results table (`results_table.build_table`) written as Markdown, LaTeX (booktabs), CSV or JSON.

Marks: the best measured value of a column in bold; a dagger on a cell whose paired difference from the baseline
is significant (compare's test, Holm-adjusted), with the direction in the footnote; published rows in their own
labelled block. CSV cells are safe to open in a spreadsheet: a text cell starting with = + - @, a tab or a
carriage return is prefixed with an apostrophe, so it is never read as a formula; numbers are written as numbers.
"""
from __future__ import annotations

import csv
import io
import json
import math

from lumiere_eval import LumiereEvalError
from lumiere_eval.metrics.registry import interval_methods_text

FORMATS = ("md", "latex", "csv", "json")
MARK = "†"
ARROWS = {True: ("↑", r"$\uparrow$"), False: ("↓", r"$\downarrow$"), None: ("", "")}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def decimals(values: list[float]) -> int:
    """Decimals that give about four significant digits to the largest magnitude of a column."""
    largest = max((abs(v) for v in values if v is not None and math.isfinite(v)), default=0.0)
    if largest == 0:
        return 2
    return min(6, max(0, 3 - math.floor(math.log10(largest))))


def _column_decimals(table: dict) -> dict[str, int]:
    out = {}
    for column in table["columns"]:
        name = column["name"]
        out[name] = decimals([r["cells"][name]["value"] for r in table["rows"] if name in r["cells"]])
    return out


def _number(value: float | None, places: int) -> str:
    return "-" if value is None else f"{value:.{places}f}"


def _cell_text(cell: dict | None, places: int) -> tuple[str, bool, bool]:
    """(value [low, high], best, significant) of one measured cell."""
    if cell is None:
        return "-", False, False
    text = _number(cell["value"], places)
    if cell.get("ci_low") is not None:
        text += f" [{_number(cell['ci_low'], places)}, {_number(cell['ci_high'], places)}]"
    return text, bool(cell.get("best")), bool(cell.get("vs_baseline", {}).get("significant"))


def display_columns(table: dict) -> list[tuple[dict, bool]]:
    """(column, extrapolated) in display order: each metric, then its extrapolation to infinite N if any row has one."""
    out = []
    for c in table["columns"]:
        out.append((c, False))
        if any("extrapolated" in r["cells"].get(c["name"], {}) for r in table["rows"]):
            out.append((c, True))
    return out


def _extrapolated_text(cell: dict | None, places: int) -> str:
    e = (cell or {}).get("extrapolated")
    if e is None:
        return "-"
    ends = "" if e["ci_low"] is None else f" [{_number(e['ci_low'], places)}, {_number(e['ci_high'], places)}]"
    return _number(e["value"], places) + ends


def _mark_note(table: dict) -> list[str]:
    if table["baseline"] is None:
        return []
    t = table["test"]
    lines = [f"{MARK} differs from the baseline {table['baseline']} at alpha = {t['alpha']} (paired test of "
             f"`lumiere-eval compare`, {t['num_resamples']} resamples, seed {t['seed']}, {t['correction']} over "
             "compare's metrics of each pair):"]
    for row in table["rows"]:
        marked = [f"{m} {c['vs_baseline']['better']} ({c['vs_baseline']['difference']:+.4g}, p_adj "
                  f"{c['vs_baseline']['p_adjusted']:.3g})" for m, c in row["cells"].items()
                  if c.get("vs_baseline", {}).get("significant")]
        if not row["baseline"] and "unpaired" not in row:
            lines.append(f"  {row['model']}: " + ("; ".join(marked) if marked else "no significant difference"))
    return lines


def _interval_note() -> str:
    return (f"Values with their 95% interval as each run recorded it ({interval_methods_text()}; percentile "
            "bootstrap for per-sample means); bold: the best measured value of the column.")


def markdown(table: dict) -> str:
    """The table as GitHub Markdown, footnotes below, published rows in a second, labelled table."""
    places = _column_decimals(table)
    shown = display_columns(table)
    head = ["model"] + [f"{c['title']}∞ (extrapolated)" if extra else
                        f"{c['title']} {ARROWS[c['higher_is_better']][0]}".strip() for c, extra in shown]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in table["rows"]:
        texts = []
        for c, extra in shown:
            if extra:
                texts.append(_extrapolated_text(row["cells"].get(c["name"]), places[c["name"]]))
                continue
            text, best, significant = _cell_text(row["cells"].get(c["name"]), places[c["name"]])
            text = f"**{text}**" if best else text
            texts.append(text + (f" {MARK}" if significant else ""))
        label = row["model"] + (" (baseline)" if row["baseline"] else "")
        lines.append("| " + " | ".join([label] + texts) + " |")
    lines += ["", _interval_note(), ""] + [f"- {n}" if not n.startswith("  ") else f"  - {n.strip()}"
                                           for n in _mark_note(table) + table["notes"]]
    published = table["published"]
    if published:
        shown = [c for c in table["columns"] if c["name"] in published["rows"][0]["cells"]]
        lines += ["", f"**{published['label']}**", "",
                  "| method | " + " | ".join(f"{c['title']} {ARROWS[c['higher_is_better']][0]}" for c in shown) + " |",
                  "|" + "---|" * (len(shown) + 1)]
        for row in published["rows"]:
            values = [_number(row["cells"].get(c["name"]), 2) for c in shown]
            lines.append("| " + " | ".join([row["model"]] + values) + " |")
    return "\n".join(lines) + "\n"


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    """`text` with LaTeX's special characters escaped."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def _latex_text(text: str) -> str:
    """Escaped text with the footnotes' Unicode marks in LaTeX form."""
    return (latex_escape(text).replace(MARK, r"$^\dagger$").replace("∞", r"$_\infty$").replace("↑", r"$\uparrow$")
            .replace("↓", r"$\downarrow$"))


def latex(table: dict) -> str:
    """A booktabs `table` environment (needs \\usepackage{booktabs}); published rows below a labelled rule."""
    places = _column_decimals(table)
    shown = display_columns(table)
    columns = [c for c, _ in shown]
    lines = [r"\begin{table}[t]", r"\centering", r"\small",
             r"\begin{tabular}{l" + "c" * len(columns) + "}", r"\toprule",
             " & ".join(["Model"] + [latex_escape(c["title"]) + r"$_\infty$ (extrap.)" if extra else
                                     f"{latex_escape(c['title'])} {ARROWS[c['higher_is_better']][1]}".strip()
                                     for c, extra in shown]) + r" \\", r"\midrule"]
    for row in table["rows"]:
        texts = []
        for c, extra in shown:
            if extra:
                texts.append(latex_escape(_extrapolated_text(row["cells"].get(c["name"]), places[c["name"]])))
                continue
            text, best, significant = _cell_text(row["cells"].get(c["name"]), places[c["name"]])
            text = latex_escape(text)
            text = rf"\textbf{{{text}}}" if best else text
            texts.append(text + (r"$^\dagger$" if significant else ""))
        label = latex_escape(row["model"]) + (" (baseline)" if row["baseline"] else "")
        lines.append(" & ".join([label] + texts) + r" \\")
    published = table["published"]
    if published:
        lines += [r"\midrule", rf"\multicolumn{{{len(columns) + 1}}}{{l}}{{\emph{{{latex_escape(published['label'])}}}}} \\"]
        for row in published["rows"]:
            values = [_number(row["cells"].get(c["name"]), 2) if c["name"] in row["cells"] and not extra else ""
                      for c, extra in shown]
            lines.append(" & ".join([latex_escape(row["model"])] + values) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\caption{" + _latex_text(_interval_note()) + "}",
              r"\end{table}"]
    notes = _mark_note(table) + table["notes"]
    if notes:
        lines += [r"\begin{itemize}\footnotesize"] + [r"\item " + _latex_text(n) for n in notes] + [r"\end{itemize}"]
    return "\n".join(lines) + "\n"


def csv_safe(value) -> object:
    """A CSV cell that a spreadsheet never reads as a formula: numbers as they are; text starting with
    = + - @, a tab or a carriage return prefixed with an apostrophe."""
    if value is None or isinstance(value, (int, float)):
        return "" if value is None else value
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_text(table: dict) -> str:
    """One line per row (measured, then published), per metric its value, interval and marks; footnotes last."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = ["model", "rows", "baseline"]
    for c in table["columns"]:
        header += [c["name"], f"{c['name']}_ci_low", f"{c['name']}_ci_high", f"{c['name']}_best",
                   f"{c['name']}_significant_vs_baseline", f"{c['name']}_extrapolated_infinite_n",
                   f"{c['name']}_extrapolated_ci_low", f"{c['name']}_extrapolated_ci_high"]
    writer.writerow(header)
    for row in table["rows"]:
        line = [row["model"], "measured", row["baseline"]]
        for c in table["columns"]:
            cell = row["cells"].get(c["name"], {})
            e = cell.get("extrapolated", {})
            line += [cell.get("value"), cell.get("ci_low"), cell.get("ci_high"), cell.get("best"),
                     cell.get("vs_baseline", {}).get("significant"), e.get("value"), e.get("ci_low"), e.get("ci_high")]
        writer.writerow([csv_safe(v) for v in line])
    for row in (table["published"] or {}).get("rows", []):
        line = [row["model"], "published (not re-measured)", False]
        for c in table["columns"]:
            line += [row["cells"].get(c["name"]), None, None, None, None, None, None, None]
        writer.writerow([csv_safe(v) for v in line])
    for note in _mark_note(table) + table["notes"]:
        writer.writerow([csv_safe("note"), csv_safe(note)])
    return out.getvalue()


def render(table: dict, fmt: str) -> str:
    """The table in format `fmt` (one of FORMATS)."""
    if fmt == "md":
        return markdown(table)
    if fmt == "latex":
        return latex(table)
    if fmt == "csv":
        return csv_text(table)
    if fmt == "json":
        return json.dumps(table, indent=2) + "\n"
    raise LumiereEvalError(f"unknown report format {fmt!r}; known: {', '.join(FORMATS)}")
