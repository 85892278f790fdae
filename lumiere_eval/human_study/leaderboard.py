"""A leaderboard from paired votes: Bradley-Terry with ties (Davidson 1970) by maximum likelihood.

Model: P(i beats j) = pi_i / D, P(tie) = nu sqrt(pi_i pi_j) / D, D = pi_i + pi_j + nu sqrt(pi_i pi_j), with
pi = exp(theta) (log-strengths, mean 0) and nu >= 0 the tie parameter; nu = 0 is plain Bradley-Terry. Each
vote is one draw of a three-way softmax whose logits (theta_i, theta_j, log nu + (theta_i + theta_j) / 2) are
linear in the parameters, so the negative log-likelihood is convex and Newton's method with a line search
finds the optimum in a few steps. Intervals come from a two-way cluster bootstrap, since votes are correlated
within prompts and within workers: by default the covariance V_prompts + V_workers - V_cells of three one-way
bootstraps (see `bootstrap` for the other choices). Robustness is the fewest votes whose removal puts another
model strictly above the leader.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lumiere_eval.human_study.stats import _strongly_connected


@dataclass(frozen=True)
class PairedVotes:
    """Votes of one question as index arrays: `first` beat `second`, or tied with it where `tie` is set."""

    models: tuple[str, ...]
    first: np.ndarray
    second: np.ndarray
    tie: np.ndarray
    prompt: np.ndarray  # cluster index of the vote's prompt
    worker: np.ndarray  # cluster index of the vote's worker

    def counts(self, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(wins, ties): wins[i, j] votes for i over j; ties[i, j] = ties[j, i] ties between i and j."""
        n = len(self.models)
        w = np.ones(len(self.first)) if weights is None else weights
        wins, ties = np.zeros((n, n)), np.zeros((n, n))
        decided = ~self.tie
        np.add.at(wins, (self.first[decided], self.second[decided]), w[decided])
        np.add.at(ties, (self.first[self.tie], self.second[self.tie]), w[self.tie])
        return wins, ties + ties.T


def concat_votes(parts: Sequence[PairedVotes]) -> PairedVotes:
    """One `PairedVotes` from several of the same models (e.g. the rounds of a study)."""
    return PairedVotes(models=parts[0].models, **{
        name: np.concatenate([getattr(p, name) for p in parts]) for name in ("first", "second", "tie", "prompt",
                                                                            "worker")})


def paired_votes(votes: Sequence, models: Sequence[str]) -> PairedVotes:
    """Index arrays from study votes (`Vote`: chosen, other, side, prompt, worker_id); side "same" is a tie."""
    index = {m: i for i, m in enumerate(models)}
    prompts = {p: k for k, p in enumerate(sorted({v.prompt for v in votes}))}
    workers = {w: k for k, w in enumerate(sorted({v.worker_id for v in votes}))}
    return PairedVotes(
        models=tuple(models),
        first=np.array([index[v.chosen] for v in votes], dtype=np.int64),
        second=np.array([index[v.other] for v in votes], dtype=np.int64),
        tie=np.array([v.side == "same" for v in votes], dtype=bool),
        prompt=np.array([prompts[v.prompt] for v in votes], dtype=np.int64),
        worker=np.array([workers[v.worker_id] for v in votes], dtype=np.int64))


@dataclass(frozen=True)
class Fit:
    """Maximum-likelihood log-strengths (mean 0), log of the tie parameter (None: no ties modelled)."""

    log_strength: np.ndarray
    log_nu: float | None
    nll: float
    hessian: np.ndarray  # of the negative log-likelihood in (theta..., log nu), with the mean-zero penalty

    def win_probability(self) -> np.ndarray:
        """P[i, j] = probability that i is chosen over j in one vote (ties possible)."""
        pi = np.exp(self.log_strength)
        tie = self._tie_term(pi)
        return pi[:, None] / (pi[:, None] + pi[None, :] + tie)

    def tie_probability(self) -> np.ndarray:
        """T[i, j] = probability that one vote on (i, j) is a tie."""
        pi = np.exp(self.log_strength)
        tie = self._tie_term(pi)
        return tie / (pi[:, None] + pi[None, :] + tie)

    def _tie_term(self, pi: np.ndarray) -> np.ndarray:
        if self.log_nu is None:
            return np.zeros((len(pi), len(pi)))
        return np.exp(self.log_nu) * np.sqrt(pi[:, None] * pi[None, :])


def _design(wins: np.ndarray, ties: np.ndarray, prior: float, with_ties: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per compared pair (i, j): the outcome counts (i chosen, j chosen[, tie]) and d logit / d phi, where
    phi = (theta_0..theta_{n-1}[, log nu]) and the logits are theta_i, theta_j[, log nu + (theta_i + theta_j)/2]."""
    n = wins.shape[0]
    i, j = np.triu_indices(n, 1)
    counts = np.stack([wins[i, j], wins[j, i], ties[i, j]], axis=1)
    compared = counts.sum(axis=1) > 0
    i, j, counts = i[compared], j[compared], counts[compared]
    counts[:, :2] += prior
    k = 3 if with_ties else 2
    jacobian = np.zeros((len(i), k, n + (1 if with_ties else 0)))
    rows = np.arange(len(i))
    jacobian[rows, 0, i] = 1.0
    jacobian[rows, 1, j] = 1.0
    if with_ties:
        jacobian[rows, 2, i] = jacobian[rows, 2, j] = 0.5
        jacobian[:, 2, n] = 1.0
    return counts[:, :k], jacobian


def _objective(phi: np.ndarray, n: int, counts: np.ndarray, jacobian: np.ndarray):
    """NLL + (sum theta)^2 / 2 (which fixes the mean), its gradient and Hessian in phi."""
    logits = jacobian @ phi                                    # (pairs, outcomes)
    top = logits.max(axis=1, keepdims=True)
    log_d = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    total = counts.sum(axis=1)
    centre = phi[:n].sum()
    nll = float(total @ log_d - np.sum(counts * logits) + 0.5 * centre ** 2)
    q = np.exp(logits - log_d[:, None])
    mean = np.einsum("pk,pka->pa", q, jacobian)
    grad = np.einsum("pk,pka->a", total[:, None] * q - counts, jacobian)
    hess = (np.einsum("pk,pka,pkb->ab", total[:, None] * q, jacobian, jacobian)
            - np.einsum("p,pa,pb->ab", total, mean, mean))
    grad[:n] += centre
    hess[:n, :n] += 1.0
    return nll, grad, hess


def fit(wins: np.ndarray, ties: np.ndarray | None = None, prior: float = 0.0, ties_model: bool | None = None,
        start: np.ndarray | None = None, tol: float = 1e-10, max_iter: int = 100) -> Fit:
    """Davidson (Bradley-Terry with ties) maximum likelihood from vote counts.

    `wins[i, j]` counts votes for i over j, `ties[i, j]` (symmetric) ties between them. `prior` adds that many
    virtual wins each way to every compared pair (0 = plain maximum likelihood, which exists only when the
    comparisons, ties counting both ways, connect every model to every other in both directions; otherwise a
    `ValueError` says so). `ties_model` defaults to "model ties if there are any"; without ties this is plain
    Bradley-Terry. `start` warm-starts Newton's method.
    """
    wins = np.asarray(wins, dtype=np.float64)
    n = wins.shape[0]
    ties = np.zeros_like(wins) if ties is None else np.asarray(ties, dtype=np.float64)
    if wins.shape != (n, n) or ties.shape != (n, n):
        raise ValueError(f"wins and ties must be square and of one size, got {list(wins.shape)}, {list(ties.shape)}")
    if not np.array_equal(ties, ties.T):
        raise ValueError("ties must be symmetric")
    wins, ties = wins.copy(), ties.copy()
    np.fill_diagonal(wins, 0.0)
    np.fill_diagonal(ties, 0.0)
    with_ties = bool(ties.sum() > 0) if ties_model is None else ties_model
    if prior == 0.0:
        if not _strongly_connected((wins > 0) | (ties > 0)):
            raise ValueError("Bradley-Terry maximum likelihood does not exist: some model never lost or never won "
                             "against the rest (use prior > 0)")
        if with_ties and (wins.sum() == 0 or ties.sum() == 0):
            raise ValueError("the tie parameter has no finite maximum likelihood: the votes are all ties or have "
                             "none (fit without the ties model)")
    counts, jacobian = _design(wins, ties, prior, with_ties)
    dim = n + (1 if with_ties else 0)
    phi = np.zeros(dim) if start is None else np.asarray(start, dtype=np.float64)[:dim].copy()
    if start is not None and with_ties and len(start) == n:
        phi = np.append(phi, 0.0)
    nll, grad, hess = _objective(phi, n, counts, jacobian)
    for _ in range(max_iter):
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:  # models not connected to each other: the minimum-norm step
            step = np.linalg.lstsq(hess, grad, rcond=None)[0]
        if np.max(np.abs(step)) < tol:
            break
        size = 1.0
        while True:  # backtracking: the objective is convex, a shorter Newton step always helps eventually
            candidate = phi - size * step
            result = _objective(candidate, n, counts, jacobian)
            if result[0] <= nll + 1e-4 * size * float(grad @ -step) or size < 1e-8:
                break
            size *= 0.5
        phi = candidate
        nll, grad, hess = result
    theta = phi[:n] - phi[:n].mean()
    return Fit(log_strength=theta, log_nu=float(phi[n]) if with_ties else None, nll=nll, hessian=hess)


@dataclass(frozen=True)
class Bootstrap:
    """Bootstrap fits of log-strengths; with `covariance` (two-way) the intervals are normal around `centre`."""

    samples: np.ndarray  # (resamples, models)
    regularised: int     # resamples without a finite MLE, refit with prior 0.5
    centre: np.ndarray | None = None
    covariance: np.ndarray | None = None

    def interval(self, confidence: float = 0.95) -> np.ndarray:
        """Interval of each log-strength, shape (models, 2): normal from `covariance` where given, else percentile."""
        alpha = (1.0 - confidence) / 2.0
        if self.covariance is not None:
            from scipy.stats import norm

            half = norm.ppf(1.0 - alpha) * np.sqrt(np.diag(self.covariance))
            return np.stack([self.centre - half, self.centre + half], axis=1)
        return np.quantile(self.samples, [alpha, 1.0 - alpha], axis=0).T

    def above(self) -> np.ndarray:
        """A[i, j] = probability that i is stronger than j: normal from `covariance` where given, else the share
        of resamples."""
        if self.covariance is not None:
            from scipy.stats import norm

            c, v = self.centre, self.covariance
            var = np.diag(v)[:, None] + np.diag(v)[None, :] - 2.0 * v
            with np.errstate(divide="ignore", invalid="ignore"):
                out = norm.cdf((c[:, None] - c[None, :]) / np.sqrt(np.maximum(var, 0.0)))
            np.fill_diagonal(out, 0.0)
            return np.nan_to_num(out, nan=0.5)
        s = self.samples
        return (s[:, :, None] > s[:, None, :]).mean(axis=0)


CLUSTERS = ("two-way", "prompts", "workers", "prompts+workers")


def bootstrap(votes: PairedVotes, prior: float = 0.0, num_resamples: int = 200, seed: int = 0,
              ties_model: bool | None = None, start: np.ndarray | None = None,
              clusters: str = "two-way") -> Bootstrap:
    """Refit on resamples of clusters of votes drawn with replacement.

    "prompts" or "workers": one-way cluster bootstrap, its covariance times G / (G - 1) for G clusters, normal
    intervals around `start`. "prompts+workers": both drawn at once, a vote weighted by the product of the draw
    counts (Owen's pigeonhole bootstrap; conservative), percentile intervals.
    "two-way": the covariance V_prompts + V_workers - V_(prompt, worker) cells of three one-way bootstraps
    (Cameron, Gelbach and Miller's two-way clustering, each term times G / (G - 1) for its G clusters), normal
    intervals around `start` (the point fit).
    """
    if clusters not in CLUSTERS:
        raise ValueError(f"clusters must be one of {', '.join(CLUSTERS)}, got {clusters!r}")
    centre = fit(*votes.counts(), prior, ties_model).log_strength if start is None else np.asarray(start)
    if clusters == "two-way":
        cell = votes.prompt * (int(votes.worker.max()) + 1) + votes.worker
        parts = [_resample(votes, groups, prior, num_resamples, seed + k, ties_model, centre)
                 for k, groups in enumerate((votes.prompt, votes.worker, cell))]
        # each bootstrap covariance times G / (G - 1) for its G clusters (the small-sample factor)
        sizes = [len(np.unique(g)) for g in (votes.prompt, votes.worker, cell)]
        v_prompts, v_workers, v_cells = (g / max(g - 1, 1) * np.cov(samples, rowvar=False)
                                         for g, (samples, _) in zip(sizes, parts))
        # V_p + V_w - V_cells, written V_cells + (V_p - V_cells) + (V_w - V_cells) with each difference kept
        # positive semi-definite: a negative part is estimation noise, and then V >= V_p and V >= V_w
        cov = v_cells + _psd(v_prompts - v_cells) + _psd(v_workers - v_cells)
        return Bootstrap(samples=parts[0][0], regularised=sum(r for _, r in parts), centre=centre, covariance=cov)
    if clusters == "prompts+workers":
        samples, regularised = _resample(votes, (votes.prompt, votes.worker), prior, num_resamples, seed,
                                         ties_model, start)
        return Bootstrap(samples=samples, regularised=regularised)
    groups = votes.prompt if clusters == "prompts" else votes.worker
    samples, regularised = _resample(votes, groups, prior, num_resamples, seed, ties_model, centre)
    g = len(np.unique(groups))
    return Bootstrap(samples=samples, regularised=regularised, centre=centre,
                     covariance=g / max(g - 1, 1) * np.cov(samples, rowvar=False))


def _psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (vectors * np.maximum(values, 0.0)) @ vectors.T


def _resample(votes: PairedVotes, groups, prior: float, num_resamples: int, seed: int, ties_model: bool | None,
              start: np.ndarray | None) -> tuple[np.ndarray, int]:
    """Fits on `num_resamples` resamples; `groups` is one cluster index per vote, or a tuple of them drawn at
    once (weights multiply)."""
    rng = np.random.default_rng(seed)
    codes = [np.unique(g, return_inverse=True)[1] for g in (groups if isinstance(groups, tuple) else (groups,))]
    _, all_ties = votes.counts()
    model_ties = bool(all_ties.sum() > 0) if ties_model is None else ties_model
    samples, regularised = [], 0
    for _ in range(num_resamples):
        weight = np.ones(len(votes.first))
        for code in codes:
            size = int(code.max()) + 1
            weight = weight * np.bincount(rng.integers(0, size, size), minlength=size)[code]
        wins, ties = votes.counts(weight)
        try:
            result = fit(wins, ties, prior, model_ties and ties.sum() > 0, start=start, tol=1e-8)
        except ValueError:
            regularised += 1
            result = fit(wins, ties, max(prior, 0.5), model_ties and ties.sum() > 0, start=start, tol=1e-8)
        samples.append(result.log_strength)
    return np.asarray(samples), regularised


_TIE_MARGIN = 1e-9  # strengths closer than this are equal: the top changes only when a model is strictly above


def _margin(theta: np.ndarray, leader: int, challenger: int) -> float:
    return float(theta[leader] - theta[challenger])


def votes_to_change_top(wins: np.ndarray, ties: np.ndarray | None = None, prior: float = 0.0,
                        ties_model: bool | None = None) -> dict:
    """The fewest votes whose removal puts another model strictly above the leader (a greedy upper bound).

    For each challenger, votes are removed one at a time, each time the kind of vote (who beat whom, or a tie
    between whom) whose removal shrinks the leader's margin most by the model's own influence estimate, with
    an exact refit after every removal. Returns the smallest count over challengers, the challenger and what
    was removed; `None` counts when no removal of votes can change the top.
    """
    wins = np.asarray(wins, dtype=np.float64)
    ties = np.zeros_like(wins) if ties is None else np.asarray(ties, dtype=np.float64)
    n = wins.shape[0]
    with_ties = bool(ties.sum() > 0) if ties_model is None else ties_model
    base = fit(wins, ties, prior, with_ties)
    leader = int(np.argmax(base.log_strength))
    kinds = [("win", a, b) for a in range(n) for b in range(n) if a != b] + \
            [("tie", a, b) for a in range(n) for b in range(a + 1, n)]
    best: dict = {"votes": None, "leader": leader, "challenger": None, "removed": []}
    for challenger in np.argsort(-base.log_strength, kind="stable")[1:]:  # the runner-up first: prunes the rest
        challenger = int(challenger)
        w, t, current, removed = wins.copy(), ties.copy(), base, {}
        while _margin(current.log_strength, leader, challenger) > -_TIE_MARGIN:
            available = [k for k in kinds if (w if k[0] == "win" else t)[k[1], k[2]] >= 1]
            if not available or (best["votes"] is not None and sum(removed.values()) >= best["votes"]):
                break
            direction = np.zeros(len(current.hessian))
            direction[leader], direction[challenger] = 1.0, -1.0
            sensitivity = np.linalg.solve(current.hessian, direction)
            kind = min(available, key=lambda k: _influence(current, k, sensitivity, with_ties))
            (w if kind[0] == "win" else t)[kind[1], kind[2]] -= 1
            if kind[0] == "tie":
                t[kind[2], kind[1]] -= 1
            removed[kind] = removed.get(kind, 0) + 1
            try:
                current = fit(w, t, prior, with_ties and t.sum() > 0, start=np.append(current.log_strength, 0.0))
            except ValueError:  # no finite MLE left: some model won or lost everything; the order is then
                theta = _net_wins(w)                # decided by who is unbeaten
                current = Fit(theta, None, float("nan"), current.hessian)
        if _margin(current.log_strength, leader, challenger) <= -_TIE_MARGIN:
            count = sum(removed.values())
            if best["votes"] is None or count < best["votes"]:
                best = {"votes": count, "leader": leader, "challenger": challenger,
                        "removed": [{"kind": k[0], "first": k[1], "second": k[2], "count": c}
                                    for k, c in sorted(removed.items())]}
    return best


def _influence(current: Fit, kind: tuple, sensitivity: np.ndarray, with_ties: bool) -> float:
    """Predicted change of the leader-challenger margin when one vote of `kind` is removed (first order)."""
    theta = current.log_strength
    _, a, b = kind
    tie_term = current._tie_term(np.exp(theta))[a, b] if with_ties and current.log_nu is not None else 0.0
    d = np.exp(theta[a]) + np.exp(theta[b]) + tie_term
    q = np.array([np.exp(theta[a]), np.exp(theta[b]), tie_term]) / d
    design = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.5, 1.0]])
    observed = design[2] if kind[0] == "tie" else design[0]
    local = q @ design - observed        # gradient of this vote's NLL in (theta_a, theta_b, log nu)
    grad = np.zeros(len(sensitivity))
    grad[a] += local[0]
    grad[b] += local[1]
    if len(sensitivity) > len(theta):
        grad[-1] += local[2]
    return float(sensitivity @ grad)     # removing the vote moves phi by about H^-1 grad


def _net_wins(wins: np.ndarray) -> np.ndarray:
    """Scores when no finite MLE exists: net wins, a stand-in that only has to order the models."""
    return (wins.sum(axis=1) - wins.sum(axis=0)).astype(np.float64)


def leaderboard(votes: PairedVotes, prior: float = 0.0, num_resamples: int = 200, seed: int = 0,
                confidence: float = 0.95, clusters: str = "two-way") -> dict:
    """Strengths, intervals, win and above-probability matrices, tie parameter and robustness of one question."""
    wins, ties = votes.counts()
    point = fit(wins, ties, prior)
    boot = bootstrap(votes, prior, num_resamples, seed, start=point.log_strength, clusters=clusters)
    interval = boot.interval(confidence)
    order = np.argsort(-point.log_strength, kind="stable")
    robust = votes_to_change_top(wins, ties, prior)
    names = list(votes.models)
    robust_named = dict(robust, leader=names[robust["leader"]],
                        challenger=None if robust["challenger"] is None else names[robust["challenger"]],
                        removed=[dict(r, first=names[r["first"]], second=names[r["second"]])
                                 for r in robust["removed"]])
    return {
        "models": names,
        "ranking": [names[k] for k in order],
        "log_strength": point.log_strength.tolist(),
        "interval": interval.tolist(),
        "confidence": confidence,
        "tie_parameter": None if point.log_nu is None else float(np.exp(point.log_nu)),
        "win_probability": point.win_probability().tolist(),
        "tie_probability": point.tie_probability().tolist(),
        "probability_above": boot.above().tolist(),
        "votes": int(len(votes.first)), "ties": int(votes.tie.sum()),
        "wins": wins.tolist(), "tie_counts": ties.tolist(),
        "prompts": len(np.unique(votes.prompt)), "workers": len(np.unique(votes.worker)),
        "prior": prior, "resamples": num_resamples, "bootstrap_over": clusters, "resamples_regularised": boot.regularised, "seed": seed,
        "robustness": robust_named,
    }


def question_votes(study: dict, results_paths, vigilance_threshold: float = 0.8) -> tuple[dict[str, list], dict]:
    """The counted comparison votes of each question from results files (`results.counted_votes`: workers
    below `vigilance_threshold` removed, rejected assignments judge workers but are not counted), and the
    vigilance summary with every unused row by reason; nothing usable is a ResultsFormatError."""
    from lumiere_eval.human_study.results import counted_votes, require_usable

    counted = counted_votes(results_paths, study, vigilance_threshold)
    require_usable(counted)
    by_question = {q: [v for v in counted.votes if v.question == q] for q in study["options"]["questions"]}
    return by_question, {"threshold": vigilance_threshold, "failed_workers": counted.failed_workers,
                         "workers": len({v.worker_id for v in counted.read.votes}), "problems": counted.read.problems,
                         "unused": counted.unused, "warnings": counted.read.warnings, "files": counted.read.files}


def markdown(boards: dict[str, dict]) -> str:
    """Leaderboards of every question as Markdown: ranking with intervals, pair matrix, robustness."""
    lines = ["# Leaderboard (Bradley-Terry with ties, Davidson)", ""]
    for question, board in boards.items():
        if board is None:
            lines += [f"## {question}", "", "No votes.", ""]
            continue
        lines += [f"## {question}", "",
                  f"{board['votes']} votes ({board['ties']} ties) from {board['workers']} workers on "
                  f"{board['prompts']} prompts; tie parameter nu = "
                  f"{'none (no ties)' if board['tie_parameter'] is None else format(board['tie_parameter'], '.3f')}; "
                  f"{board['confidence']:.0%} intervals from a {board['bootstrap_over']} bootstrap "
                  f"({board['resamples']} resamples), prior {board['prior']} virtual wins each way.", "",
                  "| rank | model | log-strength | interval |", "|---|---|---|---|"]
        index = {m: k for k, m in enumerate(board["models"])}
        for rank, model in enumerate(board["ranking"], start=1):
            k = index[model]
            low, high = board["interval"][k]
            lines.append(f"| {rank} | {model} | {board['log_strength'][k]:.3f} | [{low:.3f}, {high:.3f}] |")
        lines += _pair_matrix(board, "probability_above",
                              "P(row model stronger than column model), from the bootstrap:")
        lines += _pair_matrix(board, "win_probability",
                              "P(row model chosen over column model in one vote), from the fitted model:")
        robust = board["robustness"]
        lines += ["", ("Robustness: no removal of votes changes the top." if robust["votes"] is None else
                       f"Robustness: removing {robust['votes']} of {board['votes']} votes puts {robust['challenger']} "
                       f"above {robust['leader']} (greedy, an upper bound on the fewest)."), ""]
    return "\n".join(lines) + "\n"


def _pair_matrix(board: dict, key: str, title: str) -> list[str]:
    """Markdown lines of the model-by-model matrix `board[key]`, rows and columns in ranking order."""
    index = {m: k for k, m in enumerate(board["models"])}
    ranking = board["ranking"]
    lines = ["", title, "", "| | " + " | ".join(ranking) + " |", "|---|" + "---|" * len(ranking)]
    for row in ranking:
        lines.append(f"| {row} | " + " | ".join(
            "-" if row == col else f"{board[key][index[row]][index[col]]:.2f}" for col in ranking) + " |")
    return lines
