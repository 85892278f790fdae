"""Simulated raters for a study: known model preferences, per-prompt noise and spammers, as an MTurk results CSV.

Used to check that the analysis recovers what was put in (`lumiere-eval study simulate` and the tests).
A genuine rater prefers model a over b with a per-prompt probability drawn from a Beta distribution whose
mean is the Bradley-Terry probability sigmoid(s_a - s_b); votes on one prompt are therefore correlated,
as real ones are. Genuine raters answer vigilance pairs right with probability `vigilance_accuracy`;
spammers click "left" always or at random.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from lumiere_eval.human_study.results import results_header


@dataclass(frozen=True)
class SimulatedStudy:
    """A simulated results table and the truth behind it."""

    header: list[str]
    rows: list[dict]
    spammers: list[str]


def simulate_results(study: dict, inputs: dict[str, dict[str, str]], log_strength: dict[str, float],
                     num_workers: int = 20, num_spammers: int = 4, concentration: float = 20.0,
                     vigilance_accuracy: float = 0.95, answer_format: str = "plain", seed: int = 0,
                     same_rate: float = 0.2) -> SimulatedStudy:
    """Answer every assignment of every HIT in `study` with simulated workers; returns batch-results rows.
    Where the study offers "same" (`--same-option`), genuine workers answer it on a share `same_rate` of
    comparisons."""
    if answer_format not in ("plain", "taskAnswers"):
        raise ValueError(f"answer_format must be 'plain' or 'taskAnswers', got {answer_format!r}")
    rng = np.random.default_rng(seed)
    questions = study["options"]["questions"]
    same = bool(study["options"].get("same_option"))
    workers = [f"A{number:012d}SIM" for number in range(num_workers)]
    spammers = workers[num_workers - num_spammers:]
    spam_style = {w: ("left", "random")[i % 2] for i, w in enumerate(spammers)}
    preference: dict[tuple[str, str], float] = {}
    for pair in study["pairs"]:
        if pair["kind"] == "comparison":
            a, b = pair["models"]
            mean = 1.0 / (1.0 + np.exp(-(log_strength[a] - log_strength[b])))
            for question in questions:
                preference[(pair["pair_id"], question)] = rng.beta(concentration * mean, concentration * (1 - mean))
    done: dict[str, set[str]] = {w: set() for w in workers}
    answer_fields = ["taskAnswers"] if answer_format == "taskAnswers" else list(questions)
    header = results_header(list(next(iter(inputs.values())).keys()), answer_fields)
    rows = []
    for hit in study["hits"]:
        number = int(hit["item_id"].lstrip("h"))  # ids follow the item, so rounds simulated apart never clash
        free = [w for w in workers if hit["pair_id"] not in done[w]]
        ties = rng.random(len(free))  # the least busy workers take the HIT, ties broken at random
        free = [w for _, _, w in sorted(zip([len(done[w]) for w in free], ties, free))]
        for k, worker in enumerate(free[:hit["max_assignments"]]):
            done[worker].add(hit["pair_id"])
            answers = {q: _answer(hit, q, worker, spam_style, preference, vigilance_accuracy, rng,
                                  same_rate if same else 0.0) for q in questions}
            row = {"HITId": f"3SIMHIT{number:023d}", "HITTypeId": "3SIMTYPE0000000000000000000000",
                   "Title": "Compare two short videos", "Reward": "$0.10",
                   "MaxAssignments": str(hit["max_assignments"]), "AssignmentId": f"3SIMASG{number:018d}{k:05d}",
                   "WorkerId": worker, "AssignmentStatus": "Submitted", "WorkTimeInSeconds": str(int(rng.integers(20, 120)))}
            row.update({f"Input.{key}": value for key, value in inputs[hit["item_id"]].items()})
            if answer_format == "taskAnswers":
                row["Answer.taskAnswers"] = json.dumps([{q: {"left": a == "left", "right": a == "right",
                                                             **({"same": a == "same"} if same else {})}
                                                         for q, a in answers.items()}])
            else:
                row.update({f"Answer.{q}": a for q, a in answers.items()})
            rows.append(row)
    return SimulatedStudy(header=header, rows=rows, spammers=spammers)


def _answer(hit: dict, question: str, worker: str, spam_style: dict, preference: dict, accuracy: float,
            rng: np.random.Generator, same_rate: float = 0.0) -> str:
    if worker in spam_style:
        return "left" if spam_style[worker] == "left" else ("left", "right")[int(rng.integers(0, 2))]
    if hit["kind"] == "vigilance":
        expected = hit["expected"].get(question)
        if expected is None:
            return ("left", "right")[int(rng.integers(0, 2))]
        wrong = "right" if expected == "left" else "left"
        return expected if rng.random() < accuracy else wrong
    if same_rate and rng.random() < same_rate:
        return "same"
    model_a = sorted((hit["left"]["model"], hit["right"]["model"]))[0]
    prefers_a = rng.random() < preference[(hit["pair_id"], question)]
    side_a = "left" if hit["left"]["model"] == model_a else "right"
    return side_a if prefers_a else ("right" if side_a == "left" else "left")


def davidson_probabilities(log_strength: np.ndarray, nu: float, a: int, b: int) -> np.ndarray:
    """(P(a chosen), P(b chosen), P(tie)) of one vote under Davidson's model."""
    pa, pb = np.exp(log_strength[a]), np.exp(log_strength[b])
    tie = nu * np.sqrt(pa * pb)
    return np.array([pa, pb, tie]) / (pa + pb + tie)


class VotePopulation:
    """Simulated people with known Davidson strengths answering (prompt, model a, model b) units directly.

    Each (prompt, pair) has its own outcome probabilities drawn once from Dirichlet(concentration x Davidson
    probabilities), so the population's average is exactly Davidson's model and votes on one prompt are
    correlated. Genuine workers vote from those probabilities; spammers (the last `num_spammers` workers)
    pick either model at random and never say "same". Used to test the leaderboard and adaptive rounds.
    """

    def __init__(self, log_strength, nu: float = 0.0, num_prompts: int = 30, num_workers: int = 30,
                 num_spammers: int = 0, concentration: float = 20.0, seed: int = 0, models=None):
        self.log_strength = np.asarray(log_strength, dtype=np.float64)
        self.nu = float(nu)
        self.models = tuple(models) if models is not None else tuple(f"m{k}" for k in range(len(self.log_strength)))
        self.num_prompts, self.num_workers = num_prompts, num_workers
        self.spammers = list(range(num_workers - num_spammers, num_workers))
        self.rng = np.random.default_rng(seed)
        n = len(self.log_strength)
        self.outcome = np.zeros((num_prompts, n, n, 3))
        for a in range(n):
            for b in range(a + 1, n):
                mean = davidson_probabilities(self.log_strength, self.nu, a, b)
                for p in range(num_prompts):
                    if self.nu > 0:
                        probs = self.rng.dirichlet(concentration * mean)
                    else:
                        first = self.rng.beta(concentration * mean[0], concentration * mean[1])
                        probs = np.array([first, 1.0 - first, 0.0])
                    self.outcome[p, a, b] = probs
                    self.outcome[p, b, a] = probs[[1, 0, 2]]

    def answer(self, units: list[tuple[int, int, int]], raters: int = 1):
        """Votes of `raters` distinct random workers on each (prompt, a, b) unit, as `PairedVotes`."""
        from lumiere_eval.human_study.leaderboard import PairedVotes

        first, second, tie, prompt, worker = [], [], [], [], []
        spam = set(self.spammers)
        for p, a, b in units:
            for w in self.rng.choice(self.num_workers, size=raters, replace=False):
                if int(w) in spam:
                    outcome = int(self.rng.integers(0, 2))
                else:
                    outcome = int(self.rng.choice(3, p=self.outcome[p, a, b]))
                winner, loser = (b, a) if outcome == 1 else (a, b)
                first.append(winner)
                second.append(loser)
                tie.append(outcome == 2)
                prompt.append(p)
                worker.append(int(w))
        return PairedVotes(models=self.models, first=np.array(first, dtype=np.int64),
                           second=np.array(second, dtype=np.int64), tie=np.array(tie, dtype=bool),
                           prompt=np.array(prompt, dtype=np.int64), worker=np.array(worker, dtype=np.int64))
