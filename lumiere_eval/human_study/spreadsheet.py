"""Spreadsheet formula injection (OWASP "CSV Injection"): how every CSV a study writes keeps prompts inert.

Excel, LibreOffice and Google Sheets run a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
return as a formula (`=HYPERLINK(...)`, `=WEBSERVICE(...)`, DDE). Prompts and worker answers are untrusted, so:

- CSVs meant for people and spreadsheets (`media_manifest.csv`, the results CSVs written by `study fetch` and
  `study simulate`) get the usual neutralisation: such a cell is written with a leading single quote, which a
  spreadsheet shows as text. The study's own readers strip that quote again (`restore_cell`).
- The MTurk batch input CSV is different: MTurk pastes each cell into the HIT's HTML as it is, so a leading
  quote would show to every worker. Its cells are HTML already, so the first character is written as a
  numeric character reference instead (`=` becomes `&#61;`, see `html_formula_safe`): the cell no longer
  starts with a formula character, and the browser shows the prompt unchanged, with no script involved.
"""
from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value):
    """A string that a spreadsheet would run as a formula, prefixed with a single quote; other values as given."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def restore_cell(text: str) -> str:
    """Undo `neutralise_cell`: drop a single quote that precedes a formula character."""
    if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_START:
        return text[1:]
    return text


def html_formula_safe(html_text: str) -> str:
    """HTML text whose first character, if it starts a formula, is written as a character reference."""
    if html_text.startswith(FORMULA_START):
        return f"&#{ord(html_text[0])};{html_text[1:]}"
    return html_text
