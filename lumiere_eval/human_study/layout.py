"""The HTML a rater sees: the shipped 2AFC layout, MTurk-safe escaping, ${var} filling and HTMLQuestion XML.

MTurk pastes batch CSV values into the layout as they are, so every value is HTML-escaped before it goes into
the CSV (a prompt `<script>` shows as text). Characters outside the Basic Multilingual Plane (4-byte UTF-8,
e.g. emoji), which MTurk refuses in CSVs, become numeric character references: the page still shows them.
A value starting with a spreadsheet formula character (`=`, `+`, `-`, `@`, tab, CR) has that character written
as a character reference too, so the batch CSV is inert in a spreadsheet (see `spreadsheet`).
"""
from __future__ import annotations

import html
import re

from lumiere_eval import LumiereEvalError
from lumiere_eval.assets import asset
from lumiere_eval.human_study.design import QUESTIONS
from lumiere_eval.human_study.spreadsheet import html_formula_safe

HTML_QUESTION_NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd"
MAX_QUESTION_BYTES = 65_535
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


class LayoutError(LumiereEvalError):
    """A layout that cannot be filled or sent: unknown ${var}, CDATA end marker, HTMLQuestion too large."""


def mturk_safe_html(text: str) -> tuple[str, list[str]]:
    """`text` escaped for HTML, with `$`, 4-byte characters and a leading formula character as character
    references; also the replaced 4-byte characters."""
    replaced = [ch for ch in text if ord(ch) > 0xFFFF]
    escaped = html.escape(text, quote=True).replace("$", "&#36;")
    escaped = "".join(f"&#x{ord(ch):X};" if ord(ch) > 0xFFFF else ch for ch in escaped)
    return html_formula_safe(escaped), replaced


def build_layout(questions: list[str], same_option: bool = False) -> str:
    """The study's MTurk layout: the shipped 2AFC page with one radio question per name, ${var} left for MTurk;
    `same_option` adds a third answer, "About the same" (value `same`, a tie)."""
    page = asset("human_study", "layout_2afc.html").read_text(encoding="utf-8")
    snippet = asset("human_study", "question_2afc.html").read_text(encoding="utf-8")
    if same_option:
        right = '<label><input type="radio" name="{{NAME}}" value="right" required> Right video</label>\n'
        snippet = snippet.replace(right, right + right.replace('"right"', '"same"').replace("Right video", "About the same"))
    blocks = [snippet.replace("{{NAME}}", name).replace("{{TEXT}}", html.escape(QUESTIONS[name]))
              for name in questions]
    prompt_block = asset("human_study", "prompt_2afc.html").read_text(encoding="utf-8") if "text" in questions else ""
    return page.replace("{{PROMPT_BLOCK}}", prompt_block.rstrip("\n")).replace("{{QUESTIONS}}", "".join(blocks).rstrip("\n"))


def layout_variables(layout: str) -> list[str]:
    """The ${var} names a layout uses, in order of first appearance."""
    return list(dict.fromkeys(_PLACEHOLDER.findall(layout)))


def fill_layout(layout: str, values: dict[str, str], where: str = "") -> str:
    """Replace each ${var} by its (already escaped) value in one pass, as MTurk does; unknown names are errors."""
    missing = [name for name in layout_variables(layout) if name not in values]
    if missing:
        names = ", ".join("${" + name + "}" for name in missing)
        raise LayoutError(f"{where or 'layout'}: no value for {names}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], layout)


def preview_page(filled_layout: str, title: str) -> str:
    """A stand-alone HTML page around a filled layout, for checking a HIT in a local browser."""
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n</head>\n<body>\n{filled_layout}\n</body>\n</html>\n")


def html_question_xml(filled_layout: str, where: str = "") -> str:
    """HTMLQuestion XML for the API route (which does not fill ${var}); checks the 65,535-byte limit."""
    if "]]>" in filled_layout:
        raise LayoutError(f"{where or 'layout'}: contains ']]>', which would end the CDATA section early")
    page = preview_page(filled_layout, "HIT")
    xml = (f'<HTMLQuestion xmlns="{HTML_QUESTION_NS}">\n<HTMLContent><![CDATA[\n{page}]]></HTMLContent>\n'
           "<FrameHeight>0</FrameHeight>\n</HTMLQuestion>\n")
    size = len(xml.encode("utf-8"))
    if size > MAX_QUESTION_BYTES:
        raise LayoutError(f"{where or 'layout'}: HTMLQuestion is {size} bytes, over MTurk's limit of "
                          f"{MAX_QUESTION_BYTES}; shorten the layout or the prompt")
    return xml
