"""Many models: a budgeted first round, `study next` rounds with their cost, `study leaderboard`,
`study agreement` against a direct computation, and adaptive against random pairing on simulated people."""
from __future__ import annotations

import itertools
import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import kendalltau

from lumiere_eval.cli import main
from lumiere_eval.human_study.adaptive import round_cost, simulate_rounds, stop_decision, votes_to_reach
from lumiere_eval.human_study.agreement import MetricTable, StudyVotes, agreement
from lumiere_eval.human_study.leaderboard import PairedVotes
from lumiere_eval.human_study.results import write_results_csv
from lumiere_eval.human_study.simulate import VotePopulation, simulate_results
from lumiere_eval.human_study.sources import load_runs
from lumiere_eval.human_study.study import create_study, load_study, read_batch_inputs
from test_human_study_support import make_manifest, make_run_folder

MODELS = ("alpha", "beta", "gamma", "delta")
STRENGTHS = {"alpha": 1.2, "beta": 0.4, "gamma": -0.4, "delta": -1.2}


def test_budget_spreads_the_first_round_over_model_pairs_and_prompts(tmp_path):
    records = load_runs([str(make_manifest(tmp_path / "v", [f"p{i}" for i in range(6)], models=MODELS))])
    study = create_study(records, tmp_path / "study", ["quality"], raters=4, vigilance=0.0, seed=1, budget=12)
    comparisons = [p for p in study["pairs"] if p["kind"] == "comparison"]
    assert len(comparisons) == 12
    assert Counter(tuple(p["models"]) for p in comparisons) == {pair: 2 for pair in
                                                                itertools.combinations(sorted(MODELS), 2)}
    assert set(Counter(p["prompt"] for p in comparisons).values()) == {2}  # every prompt used equally
    firsts = Counter(h["left"]["model"] for h in study["hits"])
    assert firsts == {m: 6 for m in MODELS}  # 4 raters: 2 per order, every model as often left as right
    assert len(study["videos"]) == 24 and study["rounds"] == [{"round": 1, "hits": 24,
                                                               "batch_files": ["batch_input.csv"]}]
    with pytest.raises(Exception, match="--budget must be between 1 and the 36"):
        create_study(records, tmp_path / "study2", ["quality"], raters=4, vigilance=0.0, budget=37)


def _simulate_round(study_dir: Path, out: Path, number: int, seed: int):
    study = load_study(study_dir)
    this_round = dict(study, hits=[h for h in study["hits"] if h["round"] == number])
    sim = simulate_results(this_round, read_batch_inputs(study_dir, study), STRENGTHS, num_workers=16,
                           num_spammers=0, seed=seed)
    write_results_csv(out, sim.header, sim.rows)


def test_rounds_from_create_to_leaderboard(tmp_path, capsys):
    manifest = make_manifest(tmp_path / "v", [f"prompt {i}" for i in range(10)], models=MODELS)
    study_dir = tmp_path / "study"
    assert main(["study", "create", "--runs", str(manifest), "--questions", "quality", "--raters", "4",
                 "--vigilance", "0.1", "--budget", "18", "--seed", "3", "--out", str(study_dir)]) == 0
    assert "cost at $0.10 per assignment" in capsys.readouterr().out
    _simulate_round(study_dir, tmp_path / "r1.csv", 1, seed=1)
    assert main(["study", "next", str(study_dir), str(tmp_path / "r1.csv"), "--units", "12", "--resamples", "30",
                 "--level", "0.999", "--reward", "0.25", "--vigilance-threshold", "0"]) == 0
    printed = capsys.readouterr().out
    study = load_study(study_dir)
    assert [r["round"] for r in study["rounds"]] == [1, 2]
    second = [h for h in study["hits"] if h["round"] == 2]
    assert len({h["pair_id"] for h in second if h["kind"] == "comparison"}) == 12
    assert {h["item_id"] for h in second}.isdisjoint({h["item_id"] for h in study["hits"] if h["round"] == 1})
    assert all((study_dir / name).is_file() for name in study["rounds"][1]["batch_files"])
    # the printed cost: $0.25 reward + 20% fee ($0.05) per assignment; fewer than 10 assignments per HIT
    assignments = sum(h["max_assignments"] for h in second)
    assert f"rewards ${Decimal('0.25') * assignments:.2f} + MTurk fees ${Decimal('0.05') * assignments:.2f}" in printed
    _simulate_round(study_dir, tmp_path / "r2.csv", 2, seed=2)
    assert main(["study", "leaderboard", str(study_dir), str(tmp_path / "r1.csv"), str(tmp_path / "r2.csv"),
                 "--resamples", "30", "--vigilance-threshold", "0"]) == 0
    board = json.loads((study_dir / "leaderboard" / "leaderboard.json").read_text())["questions"]["quality"]
    assert board["ranking"] == list(MODELS)
    assert board["votes"] == 4 * (18 + 12)
    rounds = json.loads((study_dir / "rounds.json").read_text())["history"]
    assert len(rounds) == 1 and rounds[0]["votes"] == 72
    with pytest.raises(SystemExit):
        main(["study", "next", "--help"])


def test_round_cost_has_the_mturk_fees():
    assert round_cost([{"max_assignments": 5}] * 4, "0.04") == {
        "hits": 4, "assignments": 20, "reward_per_assignment": "0.04", "rewards": "0.80", "fees": "0.20",
        "total": "1.00"}  # 20% of $0.04 is below the $0.01 minimum
    assert round_cost([{"max_assignments": 10}], "1.00")["fees"] == "4.00"  # 40% with 10+ assignments


def test_stop_when_neighbours_are_separated_or_the_ranking_is_stable():
    above = np.array([[0, 0.99, 1.0], [0.01, 0, 0.97], [0, 0.03, 0]])
    assert stop_decision([["a", "b", "c"]], above, ["a", "b", "c"], level=0.95)["stop"]
    assert not stop_decision([["a", "b", "c"]], above, ["a", "b", "c"], level=0.98)["stop"]
    history = [["a", "c", "b"], ["a", "b", "c"], ["a", "b", "c"], ["a", "b", "c"]]
    decision = stop_decision(history, above, ["a", "b", "c"], level=0.98, patience=3)
    assert decision["stop"] and "unchanged" in decision["reason"]
    assert not stop_decision(history[:3], above, ["a", "b", "c"], level=0.98, patience=3)["stop"]


def test_adaptive_pairing_needs_fewer_votes_than_random():
    """6 models, tie parameter 0.3, rounds of 10 pairs x 3 raters; 20 simulated studies per strategy."""
    truth = np.linspace(1.0, -1.0, 6)
    curves = {"random": [], "adaptive": []}
    for seed in range(20):
        for strategy in curves:
            population = VotePopulation(truth, nu=0.3, num_prompts=40, num_workers=30, seed=seed)
            curves[strategy].append(simulate_rounds(population, strategy, 10, 10, raters=3, seed=seed + 1000))
    random_votes, adaptive_votes = (votes_to_reach(curves[s], 0.9) for s in ("random", "adaptive"))
    assert adaptive_votes is not None and (random_votes is None or adaptive_votes < random_votes), \
        (random_votes, adaptive_votes)
    mean_tau = {s: np.mean([[r["kendall_tau"] for r in c] for c in curves[s]]) for s in curves}
    assert mean_tau["adaptive"] > mean_tau["random"], mean_tau  # better on average over every round too


def test_agreement_equals_a_direct_computation():
    rng = np.random.default_rng(0)
    models = ("a", "b", "c")
    prompts = [f"q{k}" for k in range(6)]
    first, second, tie, prompt, worker, seeds = [], [], [], [], [], []
    for p in range(6):
        for x, y in itertools.combinations(range(3), 2):
            for w in range(3):
                outcome = rng.choice(3, p=[0.55 - 0.1 * x, 0.35 + 0.1 * x, 0.1])
                first.append(x if outcome != 1 else y)
                second.append(y if outcome != 1 else x)
                tie.append(outcome == 2)
                prompt.append(p)
                worker.append(w)
                seeds.append(p + 100)
    votes = PairedVotes(models, np.array(first), np.array(second), np.array(tie), np.array(prompt), np.array(worker))
    study = StudyVotes(votes=votes, prompts=prompts, seeds=np.array(seeds))
    per_video = {(m, prompts[p], p + 100): float(rng.normal(-k * 0.3, 1.0)) for k, m in enumerate(models)
                 for p in range(6)}
    table = MetricTable(per_video={"score": per_video}, per_model={"fvd": {"a": 10.0, "b": 30.0, "c": 20.0}},
                        higher_is_better={"score": True, "fvd": False})
    result = agreement(study, table, prior=0.5, num_resamples=20, seed=0)
    rows = {m["metric"]: m for m in result["metrics"]}
    # by hand: majority per (prompt, model pair), ties ignored, even splits skipped
    agree = total = 0
    wins = np.zeros((3, 3))
    for p in range(6):
        for x, y in itertools.combinations(range(3), 2):
            idx = [k for k in range(len(first)) if prompt[k] == p and {first[k], second[k]} == {x, y} and not tie[k]]
            for_x = sum(first[k] == x for k in idx)
            for_y = len(idx) - for_x
            wins[x, y] += for_x
            wins[y, x] += for_y
            if for_x == for_y:
                continue
            metric_x = per_video[(models[x], prompts[p], p + 100)] > per_video[(models[y], prompts[p], p + 100)]
            agree += metric_x == (for_x > for_y)
            total += 1
    assert rows["score"]["pairs"] == total
    assert rows["score"]["pairwise_accuracy"] == pytest.approx(agree / total)
    means = [np.mean([per_video[(m, prompts[p], p + 100)] for p in range(6)]) for m in models]
    human = np.asarray(result["human_log_strength"])
    assert rows["score"]["kendall_tau"] == pytest.approx(kendalltau(means, human).statistic)
    assert rows["fvd"]["kendall_tau"] == pytest.approx(kendalltau([-10.0, -30.0, -20.0], human).statistic)
    model_pairs = [(x, y) for x, y in itertools.combinations(range(3), 2) if wins[x, y] != wins[y, x]]
    fvd = [10.0, 30.0, 20.0]
    expected = np.mean([(fvd[x] < fvd[y]) == (wins[x, y] > wins[y, x]) for x, y in model_pairs])
    assert rows["fvd"]["pairwise_accuracy"] == pytest.approx(expected)
    for row in rows.values():
        low, high = row["accuracy_interval"]
        assert 0.0 <= low <= high <= 1.0


def test_agreement_cli_reads_run_folders(tmp_path, capsys):
    prompts = [f"a shape moving {d}" for d in ("left", "right", "up", "down", "in", "out")]
    runs = {}
    for k, model in enumerate(("alpha", "beta", "gamma")):
        folder = make_run_folder(tmp_path / model, model, prompts)
        rows = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
        for row in rows:
            row["clipsim"] = 30.0 - 5 * k + row["index"] * 0.1
            row["motion_score"] = float(k)
        (folder / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        (folder / "results.json").write_text(json.dumps({"model": {"name": model}, "metrics": {
            "fvd": {"value": 100.0 + 10 * k, "higher_is_better": False}}}))
        (folder / "motion.json").write_text(json.dumps({  # the motion tier's layout: per sample index, summary
            "per_sample": {str(r["index"]): {"warping_error_dis": 1.0 + k, "dynamic_dis": 0.5} for r in rows},
            "summary": {"warping_error_dis": {"value": 1.0 + k, "higher_is_better": False},
                        "dynamic_dis": {"value": 0.5, "higher_is_better": None}}}))
        runs[model] = folder
    study_dir = tmp_path / "study"
    assert main(["study", "create", "--runs", *map(str, runs.values()), "--questions", "quality,text",
                 "--raters", "4", "--vigilance", "0.1", "--out", str(study_dir)]) == 0
    study = load_study(study_dir)
    sim = simulate_results(study, read_batch_inputs(study_dir, study), {"alpha": 1.0, "beta": 0.0, "gamma": -1.0},
                           num_workers=10, num_spammers=0, seed=4)
    write_results_csv(tmp_path / "r.csv", sim.header, sim.rows)
    capsys.readouterr()
    assert main(["study", "agreement", str(study_dir), str(tmp_path / "r.csv"), "--runs",
                 *[f"{m}={p}" for m, p in runs.items()], "--resamples", "20"]) == 0
    printed = capsys.readouterr().out
    assert "motion_score" in printed and "dynamic_dis" in printed  # direction unknown: listed, not compared
    report = json.loads((study_dir / "agreement" / "agreement.json").read_text())["questions"]
    rows = {m["metric"]: m for m in report["quality"]["metrics"]}
    assert set(rows) == {"clipsim", "fvd", "warping_error_dis"}
    assert rows["warping_error_dis"]["kendall_tau"] == pytest.approx(1.0)  # lower warping error = alpha
    assert rows["fvd"]["kendall_tau"] == pytest.approx(1.0) and rows["clipsim"]["kendall_tau"] == pytest.approx(1.0)
    assert main(["study", "agreement", str(study_dir), str(tmp_path / "r.csv"), "--runs",
                 *[f"{m}={p}" for m, p in runs.items()], "--metric", "motion_score=lower", "--resamples", "10",
                 "--out", str(tmp_path / "agree2")]) == 0
    again = json.loads((tmp_path / "agree2" / "agreement.json").read_text())["questions"]["quality"]
    motion = next(m for m in again["metrics"] if m["metric"] == "motion_score")
    assert motion["kendall_tau"] == pytest.approx(1.0)  # lower motion_score = alpha, the people's favourite


@pytest.mark.parametrize("answer_format", ["plain", "taskAnswers"])
def test_same_option_gives_ties_to_the_leaderboard(tmp_path, capsys, answer_format):
    manifest = make_manifest(tmp_path / "v", [f"prompt {i}" for i in range(8)], models=("alpha", "beta", "gamma"))
    study_dir = tmp_path / "study"
    assert main(["study", "create", "--runs", str(manifest), "--questions", "quality", "--raters", "4",
                 "--vigilance", "0.2", "--same-option", "--out", str(study_dir)]) == 0
    assert 'value="same" required> About the same' in (study_dir / "layout.html").read_text()
    study = load_study(study_dir)
    sim = simulate_results(study, read_batch_inputs(study_dir, study), {"alpha": 1.0, "beta": 0.0, "gamma": -1.0},
                           num_workers=12, num_spammers=0, answer_format=answer_format, same_rate=0.25, seed=3)
    write_results_csv(tmp_path / "r.csv", sim.header, sim.rows)
    assert main(["study", "leaderboard", str(study_dir), str(tmp_path / "r.csv"), "--resamples", "20",
                 "--vigilance-threshold", "0"]) == 0
    board = json.loads((study_dir / "leaderboard" / "leaderboard.json").read_text())["questions"]["quality"]
    assert board["votes"] == 8 * 3 * 4 and 0 < board["ties"] < board["votes"] / 2
    assert board["tie_parameter"] > 0
    # the 2AFC analysis counts wins only: "same" answers are left out of its win rates
    assert main(["study", "analyze", str(study_dir), str(tmp_path / "r.csv"), "--resamples", "20",
                 "--vigilance-threshold", "0"]) == 0
    report = json.loads((study_dir / "analysis" / "analysis.json").read_text())
    assert sum(c["votes"] for c in report["comparisons"]) == board["votes"] - board["ties"]


def test_bad_inputs_are_clear_errors(tmp_path, capsys):
    manifest = make_manifest(tmp_path / "v", ["p0", "p1"], models=("alpha", "beta"))
    study_dir = tmp_path / "study"
    assert main(["study", "create", "--runs", str(manifest), "--questions", "quality", "--raters", "2",
                 "--vigilance", "0", "--out", str(study_dir)]) == 0
    study = load_study(study_dir)
    rows = simulate_results(study, read_batch_inputs(study_dir, study), {"alpha": 9.0, "beta": -9.0},
                            num_workers=4, num_spammers=0, seed=0)
    write_results_csv(tmp_path / "r.csv", rows.header, rows.rows)
    capsys.readouterr()
    for argv, message in (
            (["leaderboard", "--prior", "0"], "r.csv: Bradley-Terry maximum likelihood does not exist"),  # alpha won all
            (["agreement", "--runs", str(manifest), "--metric", "clipsim"], "NAME=higher or NAME=lower"),
            (["next", "--question", "motion"], "'motion' is not asked in this study")):
        assert main(["study", argv[0], str(study_dir), str(tmp_path / "r.csv"), *argv[1:]]) == 1
        assert message in capsys.readouterr().err


def test_agreement_bootstrap_counts_a_prompt_as_often_as_it_was_drawn():
    """The intervals equal a by-hand bootstrap over prompts in which a prompt drawn k times is k copies of it."""
    from lumiere_eval.human_study.leaderboard import fit

    rng = np.random.default_rng(1)
    models, num_prompts = ("a", "b", "c"), 5
    prompts = [f"q{k}" for k in range(num_prompts)]
    votes = []  # (prompt, x, y, x chosen)
    for p in range(num_prompts):
        for x, y in itertools.combinations(range(3), 2):
            votes += [(p, x, y, bool(rng.random() < 0.7 - 0.15 * x)) for _ in range(3)]
    paired = PairedVotes(models, np.array([x if c else y for _, x, y, c in votes]),
                         np.array([y if c else x for _, x, y, c in votes]), np.zeros(len(votes), dtype=bool),
                         np.array([p for p, *_ in votes]), np.zeros(len(votes), dtype=np.int64))
    study = StudyVotes(votes=paired, prompts=prompts, seeds=np.array([p + 100 for p, *_ in votes]))
    per_video = {(m, prompts[p], p + 100): float(rng.normal(-0.3 * k, 1.0)) for k, m in enumerate(models)
                 for p in range(num_prompts)}
    table = MetricTable(per_video={"score": per_video}, higher_is_better={"score": True})
    resamples, seed = 40, 3
    row = agreement(study, table, prior=0.5, num_resamples=resamples, seed=seed)["metrics"][0]

    draw_rng = np.random.default_rng(seed)
    accuracies, taus = [], []
    for _ in range(resamples):
        drawn = draw_rng.integers(0, num_prompts, num_prompts)
        agree = total = 0
        wins = np.zeros((3, 3))
        sums, counts = np.zeros(3), np.zeros(3)
        for p in drawn:  # each draw is its own copy of the prompt
            for x, y in itertools.combinations(range(3), 2):
                for_x = sum(c for q, vx, vy, c in votes if (q, vx, vy) == (p, x, y))
                for_y = 3 - for_x
                wins[x, y] += for_x
                wins[y, x] += for_y
                metric_x = per_video[(models[x], prompts[p], p + 100)] > per_video[(models[y], prompts[p], p + 100)]
                agree += metric_x == (for_x > for_y)
                total += 1
            for k, m in enumerate(models):
                sums[k] += per_video[(m, prompts[p], p + 100)]
                counts[k] += 1
        accuracies.append(agree / total)
        taus.append(kendalltau(sums / counts, fit(wins, None, 0.5).log_strength).statistic)
    taus = [t for t in taus if not np.isnan(t)]
    assert row["accuracy_interval"] == pytest.approx(np.quantile(accuracies, [0.025, 0.975]).tolist())
    assert row["tau_interval"] == pytest.approx(np.quantile(taus, [0.025, 0.975]).tolist())


def test_bootstrap_over_is_an_option_only_where_it_is_used(tmp_path):
    """`study agreement` always resamples prompts: a --bootstrap-over it would ignore is refused, not dropped."""
    common = [str(tmp_path / "study"), str(tmp_path / "r.csv"), "--bootstrap-over", "workers"]
    with pytest.raises(SystemExit) as exit_info:
        main(["study", "agreement", *common, "--runs", f"a={tmp_path}"])
    assert exit_info.value.code == 2
    assert main(["study", "leaderboard", *common]) == 1  # accepted there: fails later, on the missing study
