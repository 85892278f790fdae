"""The study design: which videos are compared, on which side, by how many raters, and the vigilance checks.

Pure: takes video records and a seed, returns plain dicts (the study record written to study.json).
Every comparison pair (same prompt and seed, two models) becomes two HITs, one per left/right order; the
raters are split between the two orders so each pair is seen in both orders. Vigilance pairs put a real
video against a degraded copy (frozen = first frame repeated, shuffled = frames in random order). When the
text question is asked, the degraded copy is made from a video of another prompt, so "which video matches
the text" has an obvious answer too.
"""
from __future__ import annotations

import itertools
import math
from collections import defaultdict

import numpy as np

from lumiere_eval.human_study.sources import StudyInputError, VideoRecord

QUESTIONS = {
    "quality": "Which video has better visual quality?",
    "motion": "Which video has more realistic and natural motion?",
    "text": "Which video matches the text description better?",
}
# Which questions a vigilance pair answers obviously (the real video wins), by the kind of degraded copy.
VIGILANCE_CHECKS = {"frozen": ("motion",), "shuffled": ("quality", "motion")}


def parse_questions(text: str) -> list[str]:
    """Question names from a comma-separated list, checked against QUESTIONS."""
    names = [q.strip() for q in text.split(",") if q.strip()]
    unknown = [q for q in names if q not in QUESTIONS]
    if unknown or not names:
        raise StudyInputError(f"--questions: unknown question(s) {', '.join(unknown) or '(none)'}; "
                              f"choose from {', '.join(QUESTIONS)}")
    if len(set(names)) != len(names):
        raise StudyInputError(f"--questions: a question is listed twice in {text!r}")
    return names


def design_study(records: list[VideoRecord], questions: list[str], raters: int, vigilance: float,
                 seed: int, budget: int | None = None) -> dict:
    """Pairs, HITs (with sides and assignment counts) and vigilance specs for `records`; seeded and recorded.

    Every two models that share a (prompt, seed) are compared there (`budget=None`), or only `budget`
    comparison pairs are chosen, spread evenly over the model pairs and, within each, over the prompts (the
    first round of an adaptive study; `study next` proposes the following rounds).
    Returns {"pairs": [...], "hits": [...], "vigilance_sources": [...]} where a HIT's sides name a record
    index (`record`) or a vigilance source (`vigilance`), to be turned into media files by the caller.
    """
    if raters < 2:
        raise StudyInputError(f"--raters must be at least 2 (one per left/right order), got {raters}")
    if not 0.0 <= vigilance < 1.0:
        raise StudyInputError(f"--vigilance must be a fraction in [0, 1), got {vigilance}")
    rng = np.random.default_rng(seed)
    groups: dict[tuple[str, int], dict[str, int]] = defaultdict(dict)
    for index, record in enumerate(records):
        slot = groups[(record.prompt, record.seed)]
        if record.model in slot:
            raise StudyInputError(f"{record.path}: model {record.model!r} has two videos for prompt "
                                  f"{record.prompt!r} seed {record.seed}")
        slot[record.model] = index

    candidates = [((prompt, video_seed), model_a, model_b) for (prompt, video_seed), by_model in sorted(groups.items())
                  for model_a, model_b in itertools.combinations(sorted(by_model), 2)]
    if not candidates:
        models = sorted({r.model for r in records})
        raise StudyInputError(f"no (prompt, seed) is shared by two models (models: {', '.join(models)}); "
                              f"a 2AFC study needs the same prompt and seed from at least two models")
    if budget is not None:
        candidates = spread_pairs(candidates, budget, rng)
    pairs = []
    for (prompt, video_seed), model_a, model_b in candidates:
        by_model = groups[(prompt, video_seed)]
        pairs.append({"pair_id": f"p{len(pairs) + 1:04d}", "kind": "comparison", "prompt": prompt,
                      "seed": video_seed, "models": [model_a, model_b],
                      "records": [by_model[model_a], by_model[model_b]]})

    sources = _vigilance_sources(records, pairs, questions, vigilance, rng)
    for source in sources:
        pairs.append({"pair_id": f"p{len(pairs) + 1:04d}", "kind": "vigilance", "prompt": source["prompt"],
                      "seed": source["seed"], "models": ["real", f"vigilance:{source['type']}"],
                      "records": [source["original"], None], "source": source["id"]})

    hits = pair_hits(pairs, sources, raters, rng, first_number=1)
    return {"pairs": pairs, "hits": hits, "vigilance_sources": sources}


def spread_pairs(candidates: list[tuple], budget: int, rng: np.random.Generator) -> list[tuple]:
    """`budget` of the (group, model_a, model_b) candidates: model pairs taken in turn (a seeded order, so
    each gets budget / pairs, the rest drawn), each at the group it has been given least, groups at random."""
    if budget < 1 or budget > len(candidates):
        raise StudyInputError(f"--budget must be between 1 and the {len(candidates)} possible comparison pairs, "
                              f"got {budget}")
    by_models: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    for candidate in candidates:
        by_models[candidate[1:]].append(candidate)
    for options in by_models.values():
        rng.shuffle(options)
    model_pairs = sorted(by_models)
    order = [model_pairs[i] for i in rng.permutation(len(model_pairs))]
    used: dict[tuple, int] = defaultdict(int)
    chosen: list[tuple] = []
    while len(chosen) < budget:
        for models in order:
            if len(chosen) == budget or not by_models[models]:
                continue
            options = by_models[models]
            pick = min(range(len(options)), key=lambda k: used[options[k][0]])  # the least used prompt first
            used[options[pick][0]] += 1
            chosen.append(options.pop(pick))
    return sorted(chosen)


def pair_hits(pairs: list[dict], sources: list[dict], raters: int, rng: np.random.Generator,
              first_number: int) -> list[dict]:
    """Two HITs per pair, one per left/right order, the raters split between them (which order gets the odd
    rater is drawn); shuffled and numbered from `first_number`. Vigilance HITs carry their expected answers."""
    hits = []
    for pair in pairs:
        more_first = bool(rng.integers(0, 2))
        counts = (math.ceil(raters / 2), raters // 2) if more_first else (raters // 2, math.ceil(raters / 2))
        for order, assignments in zip((0, 1), counts):
            if assignments == 0:
                continue
            sides = [_side(pair, slot) for slot in ((0, 1) if order == 0 else (1, 0))]
            hit = {"pair_id": pair["pair_id"], "kind": pair["kind"], "prompt": pair["prompt"],
                   "seed": pair["seed"], "left": sides[0], "right": sides[1], "max_assignments": assignments}
            if pair["kind"] == "vigilance":
                source = next(s for s in sources if s["id"] == pair["source"])
                real_side = "left" if order == 0 else "right"
                hit["expected"] = {q: real_side for q in source["checks"]}
            hits.append(hit)
    order = rng.permutation(len(hits))
    hits = [hits[i] for i in order]
    for number, hit in enumerate(hits, start=first_number):
        hit["item_id"] = f"h{number:04d}"
    return hits


def _side(pair: dict, slot: int) -> dict:
    if pair["kind"] == "vigilance" and slot == 1:
        return {"model": pair["models"][1], "vigilance": pair["source"]}
    return {"model": pair["models"][slot], "record": pair["records"][slot]}


def _vigilance_sources(records: list[VideoRecord], pairs: list[dict], questions: list[str], fraction: float,
                       rng: np.random.Generator) -> list[dict]:
    """Which real video each vigilance pair shows, which video its degraded copy is made from, and how."""
    if fraction == 0.0:
        return []
    # rounded before the ceiling: 0.2 * 12 / 0.8 is 3.0000000000000004 in floating point, not 4 pairs
    count = max(1, math.ceil(round(fraction * len(pairs) / (1.0 - fraction), 9)))
    used = sorted({i for p in pairs for i in p["records"]})
    text_check = "text" in questions and len({records[i].prompt for i in used}) > 1
    kinds = [k for k in VIGILANCE_CHECKS if text_check or set(VIGILANCE_CHECKS[k]) & set(questions)]
    if not kinds:
        raise StudyInputError(f"no vigilance check fits the questions {', '.join(questions)}; use --vigilance 0")
    sources = []
    for number in range(count):
        original = int(used[rng.integers(0, len(used))])
        kind = kinds[number % len(kinds)]
        checks = list(VIGILANCE_CHECKS[kind])
        degraded_from = original
        if text_check:
            others = [i for i in used if records[i].prompt != records[original].prompt]
            if others:
                same_model = [i for i in others if records[i].model == records[original].model]
                pool = same_model or others
                degraded_from = int(pool[rng.integers(0, len(pool))])
                checks.append("text")
        sources.append({"id": f"v{number + 1:03d}", "type": kind, "original": original,
                        "degraded_from": degraded_from, "prompt": records[original].prompt,
                        "seed": records[original].seed,
                        "checks": [q for q in questions if q in checks]})
    return sources
