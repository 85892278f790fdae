"""`lumiere-eval study create|publish|fetch|review|analyze|leaderboard|next|agreement|simulate`: 2AFC human
studies on Mechanical Turk, for two models or many (rounds, a leaderboard with ties, metric-human agreement)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lumiere_eval.cli_types import float_range, int_range
from lumiere_eval.human_study.mturk import MTurkError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The study sub-subcommands and their options."""
    fmt = argparse.ArgumentDefaultsHelpFormatter
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = sub.add_parser("create", formatter_class=fmt, help="Build a study folder: pairs, vigilance, layout, "
                            "batch CSV, previews, media manifest.")
    create.add_argument("--runs", nargs="+", required=True, type=str, default=None,
                        help="Run folders (samples.jsonl) or manifests (.csv/.jsonl: model,prompt,seed,path), "
                             "each optionally as NAME=PATH.")
    create.add_argument("--questions", type=str, default="quality,motion,text",
                        help="Comma-separated questions: quality, motion, text.")
    create.add_argument("--raters", type=int_range(1), default=5,
                        help="Raters per pair, split across the two left/right orders.")
    create.add_argument("--vigilance", type=float_range(0, 1), default=0.1,
                        help="Fraction of all pairs that are vigilance (attention-check) pairs.")
    create.add_argument("--budget", type=int_range(1), default=None,
                        help="Comparison pairs in the first round, spread over model pairs and prompts "
                             "(default: every model pair on every shared prompt and seed).")
    create.add_argument("--seed", type=int_range(0), default=0,
                        help="Seed of the side assignment, order and vigilance picks.")
    create.add_argument("--base-url", type=str, default="",
                        help="https URL where the files of STUDY/media/ will be hosted (needed to publish).")
    create.add_argument("--same-option", action="store_true",
                        help='Offer a third answer, "About the same" (a tie, modelled by study leaderboard).')
    create.add_argument("--reward", type=str, default="0.10",
                        help="USD per assignment for the printed cost estimate (publish --reward sets the real one).")
    create.add_argument("--out", type=Path, required=True, default=None, help="New study folder to write.")

    publish = sub.add_parser("publish", formatter_class=fmt, help="Create the HITs through the MTurk API.")
    publish.add_argument("study", type=Path, help="Study folder.")
    publish.add_argument("--sandbox", action="store_true", help="Use the MTurk requester sandbox.")
    publish.add_argument("--yes", action="store_true", help="Do not ask before spending money.")
    publish.add_argument("--reward", type=str, default="0.10", help="USD per assignment, e.g. 0.50.")
    publish.add_argument("--title", type=str, default="Compare two short videos", help="HIT title.")
    publish.add_argument("--description", type=str,
                         default="Watch two short AI-generated videos side by side and say which one is better.",
                         help="HIT description.")
    publish.add_argument("--keywords", type=str, default="video, comparison, quality, rating", help="HIT keywords.")
    publish.add_argument("--assignment-duration", type=int_range(1), default=600,
                         help="Seconds a worker has for one assignment.")
    publish.add_argument("--lifetime", type=int_range(1), default=604_800, help="Seconds each HIT stays listed.")
    publish.add_argument("--auto-approval-delay", type=int_range(0), default=259_200,
                         help="Seconds until MTurk approves an assignment that was not reviewed.")
    publish.add_argument("--min-approval-rate", type=int_range(0, 100), default=98,
                         help="Workers' minimum approval rate (%%).")
    publish.add_argument("--min-approved", type=int_range(0), default=1000,
                         help="Workers' minimum number of approved HITs (0 = no requirement).")
    publish.add_argument("--locales", type=str, default="US",
                         help="Comma-separated worker countries (ISO 3166 codes); empty = anywhere.")

    fetch = sub.add_parser("fetch", formatter_class=fmt, help="Download assignments into a batch-format results CSV.")
    fetch.add_argument("study", type=Path, help="Study folder.")
    fetch.add_argument("--sandbox", action="store_true", help="Read the HITs published to the sandbox.")
    fetch.add_argument("--out", type=Path, default=None, help="Results CSV (default STUDY/results_<env>.csv).")

    review = sub.add_parser("review", formatter_class=fmt, help="Approve or reject assignments by vigilance outcome.")
    review.add_argument("study", type=Path, help="Study folder.")
    review.add_argument("results", type=Path, nargs="+",
                        help="Results CSV(s) from fetch, or folders of them (every batch of the study).")
    review.add_argument("--sandbox", action="store_true", help="Review sandbox assignments.")
    review.add_argument("--threshold", type=float_range(0, 1), default=0.8,
                        help="Minimum share of vigilance answers right to be approved.")
    review.add_argument("--reject-workers", action="store_true",
                        help="Also reject all work of workers below the threshold over the whole study.")
    review.add_argument("--dry-run", action="store_true", help="Print the decisions; send nothing.")

    analyze = sub.add_parser("analyze", formatter_class=fmt, help="Win rates, tests, Bradley-Terry and agreement.")
    analyze.add_argument("study", type=Path, help="Study folder.")
    analyze.add_argument("results", type=Path, nargs="+",
                         help="MTurk batch results CSV(s), or folders of them (a study published as several batches).")
    analyze.add_argument("--out", type=Path, default=None, help="Report folder (default STUDY/analysis).")
    analyze.add_argument("--vigilance-threshold", type=float_range(0, 1), default=0.8,
                         help="Workers with a lower share of right vigilance answers are removed.")
    analyze.add_argument("--resamples", type=int_range(1), default=1000, help="Bootstrap resamples over prompts.")
    analyze.add_argument("--bt-prior", type=float_range(0), default=0.5,
                         help="Virtual wins each way per compared model pair in Bradley-Terry.")
    analyze.add_argument("--seed", type=int_range(0), default=0, help="Bootstrap seed.")
    analyze.add_argument("--strict", action="store_true", help="Exit with an error if any row has a problem.")

    board = sub.add_parser("leaderboard", formatter_class=fmt,
                           help="Bradley-Terry with ties (Davidson) per question: ranking, intervals, pair "
                                "matrix, robustness.")
    board.add_argument("study", type=Path, help="Study folder.")
    board.add_argument("results", type=Path, nargs="+", help="MTurk batch results CSV(s) or folders of them.")
    _add_fit_options(board)
    board.add_argument("--out", type=Path, default=None, help="Report folder (default STUDY/leaderboard).")

    nxt = sub.add_parser("next", formatter_class=fmt,
                         help="After a round: stop, or add the next round's most informative pairs (with its cost).")
    nxt.add_argument("study", type=Path, help="Study folder (rounds are added to it).")
    nxt.add_argument("results", type=Path, nargs="+", help="Results CSV(s) of every round so far, or folders.")
    _add_fit_options(nxt)
    nxt.add_argument("--question", type=str, default=None, help="Question that drives the pairs (default: the first).")
    nxt.add_argument("--units", type=int_range(1), default=None,
                     help="Comparison pairs in the next round (default: as many as in round 1).")
    nxt.add_argument("--level", type=float_range(0, 1), default=0.95,
                     help="Stop when every adjacent pair has P(upper stronger) at least this.")
    nxt.add_argument("--patience", type=int_range(1), default=3,
                     help="Stop when the ranking is unchanged over this many rounds.")
    nxt.add_argument("--reward", type=str, default="0.10", help="USD per assignment, for the cost of the next round.")
    nxt.add_argument("--dry-run", action="store_true", help="Print the decision and the proposal; change nothing.")

    agree = sub.add_parser("agreement", formatter_class=fmt,
                           help="How well each automatic metric agrees with the people: pairwise accuracy and "
                                "Kendall's tau with intervals.")
    agree.add_argument("study", type=Path, help="Study folder.")
    agree.add_argument("results", type=Path, nargs="+", help="MTurk batch results CSV(s) or folders of them.")
    agree.add_argument("--runs", nargs="+", required=True, type=str, default=None,
                       help="The studied run folders as NAME=PATH (samples.jsonl per-video scores, results.json).")
    agree.add_argument("--metric", nargs="*", type=str, default=[],
                       help="NAME=higher|lower for per-sample fields whose direction is not known (e.g. motion).")
    _add_fit_options(agree, clusters=False)
    agree.add_argument("--out", type=Path, default=None, help="Report folder (default STUDY/agreement).")

    simulate = sub.add_parser("simulate", formatter_class=fmt,
                              help="Answer a study with simulated raters (known preferences + spammers).")
    simulate.add_argument("study", type=Path, help="Study folder.")
    simulate.add_argument("--strength", nargs="+", type=str, default=None,
                          help="MODEL=LOG_STRENGTH for each model (Bradley-Terry scale); default all 0.")
    simulate.add_argument("--workers", type=int_range(1), default=20, help="Number of simulated workers.")
    simulate.add_argument("--spammers", type=int_range(0), default=4, help="How many of them answer without looking.")
    simulate.add_argument("--answer-format", choices=["plain", "taskAnswers"], default="plain", type=str,
                          help="Answer.<question> columns or one crowd-form Answer.taskAnswers JSON column.")
    simulate.add_argument("--seed", type=int_range(0), default=0, help="Simulation seed.")
    simulate.add_argument("--out", type=Path, required=True, default=None, help="Results CSV to write.")


def _add_fit_options(parser: argparse.ArgumentParser, clusters: bool = True) -> None:
    parser.add_argument("--vigilance-threshold", type=float_range(0, 1), default=0.8,
                        help="Workers with a lower share of right vigilance answers are removed.")
    parser.add_argument("--resamples", type=int_range(1), default=200, help="Bootstrap resamples.")
    parser.add_argument("--prior", type=float_range(0), default=0.5,
                        help="Virtual wins each way per compared model pair (0 = plain maximum likelihood).")
    if clusters:  # `agreement` always resamples prompts
        parser.add_argument("--bootstrap-over", choices=["two-way", "prompts", "workers", "prompts+workers"],
                            default="two-way", type=str,
                            help="Clusters resampled: two-way = prompts and workers (variance V_p + V_w - V_cells).")
    parser.add_argument("--seed", type=int_range(0), default=0, help="Bootstrap seed (and the next round's sides).")


def run(args: argparse.Namespace) -> int:
    """Dispatch to the chosen study action."""
    return {"create": _create, "publish": _publish, "fetch": _fetch, "review": _review, "analyze": _analyze,
            "simulate": _simulate, "leaderboard": _leaderboard, "next": _next, "agreement": _agreement}[args.action](args)


def _create(args) -> int:
    from lumiere_eval.human_study.adaptive import round_cost
    from lumiere_eval.human_study.design import parse_questions
    from lumiere_eval.human_study.sources import load_runs
    from lumiere_eval.human_study.study import create_study

    study = create_study(load_runs(args.runs), args.out, parse_questions(args.questions), args.raters,
                         args.vigilance, args.seed, args.base_url, args.budget, args.same_option)
    kinds = [h["kind"] for h in study["hits"]]
    print(f"{args.out}: {len(study['pairs'])} pairs of {', '.join(study['models'])} -> {kinds.count('comparison')} "
          f"comparison + {kinds.count('vigilance')} vigilance HITs; batch files: "
          + ", ".join(f"{name} ({n} assignments per HIT)" for name, n in study["batch_files"].items()))
    for entry in study["replaced_characters"]:
        print(f"  {entry['item_id']}: replaced 4-byte character(s) {' '.join(entry['characters'])} by HTML "
              "character references (MTurk refuses them in CSVs)")
    if not study["options"]["base_url"]:
        print("  no --base-url: the batch CSV points at media/...; host media/ and create again with --base-url")
    cost = round_cost(study["hits"], args.reward)
    print(f"  cost at ${cost['reward_per_assignment']} per assignment: {cost['assignments']} assignments, rewards "
          f"${cost['rewards']} + MTurk fees ${cost['fees']} = ${cost['total']}")
    return 0


def _environment(args) -> str:
    return "sandbox" if args.sandbox else "production"


def _publish(args) -> int:
    from lumiere_eval.human_study.mturk import HitSettings, make_client, publish
    from lumiere_eval.human_study.study import load_study

    settings = HitSettings(
        reward=args.reward, title=args.title, description=args.description, keywords=args.keywords,
        assignment_duration=args.assignment_duration, auto_approval_delay=args.auto_approval_delay,
        lifetime=args.lifetime, min_approval_rate=args.min_approval_rate, min_approved=args.min_approved,
        locales=tuple(c.strip() for c in args.locales.split(",") if c.strip()))
    env = _environment(args)

    def confirm(cost: dict) -> bool:
        if args.yes:
            return True
        if not sys.stdin.isatty():
            raise MTurkError("not asking on a non-interactive input: pass --yes to accept the cost shown")
        return input(f"Create {cost['hits']} HITs on {env} for ${cost['total']}? [y/N] ").strip().lower() == "y"

    study = load_study(args.study)
    publish(study, args.study, make_client(env), env, settings, confirm)
    return 0


def _fetch(args) -> int:
    from lumiere_eval.human_study.mturk import fetch, make_client
    from lumiere_eval.human_study.study import load_study

    env = _environment(args)
    out = args.out or args.study / f"results_{env}.csv"
    count = fetch(load_study(args.study), args.study, make_client(env), env, out)
    print(f"{out}: {count} assignments")
    return 0


def _review(args) -> int:
    from lumiere_eval.human_study.mturk import apply_review, make_client, plan_review
    from lumiere_eval.human_study.study import load_study

    plan = plan_review(load_study(args.study), args.results, args.threshold, args.reject_workers)
    rejects = [d for d in plan if d["action"] == "reject"]
    print(f"{len(plan) - len(rejects)} to approve, {len(rejects)} to reject")
    for decision in rejects:
        print(f"  reject {decision['AssignmentId']} ({decision['WorkerId']}): {decision['feedback']}")
    if not args.dry_run:
        apply_review(plan, make_client(_environment(args)))
    return 0


def _analyze(args) -> int:
    from lumiere_eval.human_study.analysis import analyze_study, write_report
    from lumiere_eval.human_study.results import UNUSED_REASONS, ResultsFormatError
    from lumiere_eval.human_study.study import load_study

    report = analyze_study(load_study(args.study), args.results, args.vigilance_threshold, args.resamples,
                           args.bt_prior, args.seed)
    out = args.out or args.study / "analysis"
    written = write_report(report, out)
    for warning in report["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    for c in report["comparisons"]:
        low, high = (_num(x) for x in c["wilson_ci"])
        print(f"{c['question']:8s} {c['model_a']} vs {c['model_b']}: {c['wins_a']}/{c['votes']} = "
              f"{_num(c['win_rate_a'])} Wilson [{low}, {high}] Holm p={_num(c['holm_p'], '.3g')}")
    vig = report["vigilance"]
    print(f"vigilance: removed {len(vig['failed_workers'])} of {vig['workers']} workers "
          f"(below {vig['threshold']:.0%} right)")
    print("wrote " + ", ".join(str(p) for p in written))
    files = ", ".join(report["results_files"])
    counts = report["counts"]
    _print_unused(files, counts["unused"])
    if report["problems"] and args.strict:
        raise ResultsFormatError(f"{files}: rows with problems (see above); analysed the valid rows anyway")
    if not counts["comparison_votes_used"]:
        why = "; ".join(f"{e['count']} {UNUSED_REASONS[k]}" for k, e in counts["unused"].items()) or "no answer rows"
        raise ResultsFormatError(
            f"{files}: no usable answers ({counts['assignments_read']} assignments read; {why}); the empty "
            f"analysis is in {out}")
    return 0


def _print_unused(files: str, unused: dict) -> None:
    """Every row the study reader left out, by reason, on stderr (the same lines in every study command)."""
    from lumiere_eval.human_study.results import unused_lines

    for line in unused_lines(unused):
        print(f"{files}: {line}", file=sys.stderr)


def _counted(args, study: dict) -> tuple[dict[str, list], dict]:
    """`leaderboard.question_votes` of the command's results, its warnings and unused rows printed."""
    from lumiere_eval.human_study.leaderboard import question_votes

    votes, vigilance = question_votes(study, args.results, args.vigilance_threshold)
    for warning in vigilance["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    _print_unused(", ".join(vigilance["files"]), vigilance["unused"])
    return votes, vigilance


def _num(value, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def _simulate(args) -> int:
    from lumiere_eval.human_study.results import write_results_csv
    from lumiere_eval.human_study.simulate import simulate_results
    from lumiere_eval.human_study.sources import StudyInputError
    from lumiere_eval.human_study.study import load_study, read_batch_inputs

    study = load_study(args.study)
    strengths = {m: 0.0 for m in study["models"]}
    for spec in args.strength or []:
        name, _, value = spec.partition("=")
        if name not in strengths:
            raise StudyInputError(f"--strength: unknown model {name!r}; the study has {', '.join(strengths)}")
        strengths[name] = float(value)
    sim = simulate_results(study, read_batch_inputs(args.study, study), strengths, args.workers, args.spammers,
                           answer_format=args.answer_format, seed=args.seed)
    write_results_csv(args.out, sim.header, sim.rows)
    print(f"{args.out}: {len(sim.rows)} assignments; spammers: {json.dumps(sim.spammers)}")
    return 0


def _boards(args, study: dict) -> tuple[dict[str, dict | None], dict[str, list], dict]:
    from lumiere_eval.human_study.leaderboard import leaderboard, paired_votes
    from lumiere_eval.human_study.sources import StudyInputError

    votes, vigilance = _counted(args, study)
    try:
        boards = {q: leaderboard(paired_votes(v, study["models"]), args.prior, args.resamples, args.seed,
                                 clusters=args.bootstrap_over) if v else None for q, v in votes.items()}
    except ValueError as err:  # e.g. --prior 0 and a model that won or lost every vote
        raise StudyInputError(f"{', '.join(map(str, args.results))}: {err}") from None
    return boards, votes, vigilance


def _leaderboard(args) -> int:
    from lumiere_eval.human_study.leaderboard import markdown
    from lumiere_eval.human_study.study import load_study, write_json_atomic

    study = load_study(args.study)
    boards, _, vigilance = _boards(args, study)
    out = args.out or args.study / "leaderboard"
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "leaderboard.json", {"study_id": study["study_id"], "vigilance": vigilance,
                                                 "questions": boards})
    text = markdown(boards)
    (out / "leaderboard.md").write_text(text, encoding="utf-8")
    print(text + f"vigilance: removed {len(vigilance['failed_workers'])} of {vigilance['workers']} workers\n"
          f"wrote {out / 'leaderboard.json'}, {out / 'leaderboard.md'}")
    return 0


def _next(args) -> int:
    import hashlib

    import numpy as np

    from lumiere_eval.human_study.adaptive import propose_pairs, round_cost, stop_decision, study_units
    from lumiere_eval.human_study.leaderboard import fit, paired_votes
    from lumiere_eval.human_study.results import results_files
    from lumiere_eval.human_study.sources import StudyInputError
    from lumiere_eval.human_study.study import add_round, load_study, write_json_atomic

    study = load_study(args.study)
    question = args.question or study["options"]["questions"][0]
    if question not in study["options"]["questions"]:
        raise StudyInputError(f"--question: {question!r} is not asked in this study "
                              f"({', '.join(study['options']['questions'])})")
    boards, votes, _ = _boards(args, study)
    board = boards[question]
    if board is None:
        raise StudyInputError(f"{', '.join(map(str, args.results))}: no counted votes on {question!r}")
    digest = hashlib.sha256()
    for path in results_files(args.results):
        digest.update(path.read_bytes())
    history_path = args.study / "rounds.json"
    history = json.loads(history_path.read_text(encoding="utf-8"))["history"] if history_path.is_file() else []
    entry = {"results_sha256": digest.hexdigest(), "question": question, "votes": board["votes"],
             "ranking": board["ranking"], "log_strength": board["log_strength"], "rounds_published": len(study["rounds"])}
    history = [h for h in history if h["results_sha256"] != entry["results_sha256"]] + [entry]
    decision = stop_decision([h["ranking"] for h in history if h["question"] == question],
                             np.asarray(board["probability_above"]), board["models"], args.level, args.patience)
    print(f"{question}: {' > '.join(board['ranking'])} after {board['votes']} votes")
    for adjacent in decision["adjacent"]:
        print(f"  P({adjacent['upper']} stronger than {adjacent['lower']}) = {adjacent['probability_above']:.3f}")
    if not args.dry_run:
        write_json_atomic(history_path, {"study_id": study["study_id"], "level": args.level, "patience": args.patience,
                                         "history": history, "decision": decision})
    if decision["stop"]:
        print(f"stop: {decision['reason']}")
        return 0
    wins, ties = paired_votes(votes[question], study["models"]).counts()
    result = fit(wins, ties, args.prior)
    first_round = sum(1 for p in study["pairs"] if p["kind"] == "comparison" and p.get("round", 1) == 1)
    proposal = propose_pairs(result, args.units or first_round, study["options"]["raters"])
    names = [(board["models"][a], board["models"][b]) for a, b in proposal]
    units = study_units(study, names, np.random.default_rng([args.seed, len(study["rounds"]) + 1]))
    counts = {}
    for a, b in names:
        counts[f"{a} vs {b}"] = counts.get(f"{a} vs {b}", 0) + 1
    print("continue: next round asks " + ", ".join(f"{k} x{v}" for k, v in sorted(counts.items())))
    if args.dry_run:
        return 0
    before = len(study["hits"])
    study = add_round(args.study, study, units, args.seed)
    cost = round_cost(study["hits"][before:], args.reward)
    number = study["rounds"][-1]["round"]
    print(f"round {number}: {cost['hits']} HITs, {cost['assignments']} assignments: rewards ${cost['rewards']} + "
          f"MTurk fees ${cost['fees']} = ${cost['total']}; batch files: "
          + ", ".join(study["rounds"][-1]["batch_files"]))
    return 0


def _agreement(args) -> int:
    from lumiere_eval.human_study.agreement import agreement, load_metrics, markdown_table, study_votes
    from lumiere_eval.human_study.sources import StudyInputError
    from lumiere_eval.human_study.study import load_study, write_json_atomic

    directions = {}
    for spec in args.metric:
        name, _, direction = spec.partition("=")
        if direction not in ("higher", "lower"):
            raise StudyInputError(f"--metric {spec!r}: write NAME=higher or NAME=lower")
        directions[name] = direction == "higher"
    study = load_study(args.study)
    metrics = load_metrics(args.runs, directions)
    unknown = sorted({m for values in metrics.per_model.values() for m in values} - set(study["models"]))
    if unknown:
        raise StudyInputError(f"--runs: model(s) {', '.join(unknown)} are not in the study "
                              f"({', '.join(study['models'])}); name them with NAME=PATH")
    if not metrics.higher_is_better:
        held = sorted(set(metrics.skipped))
        raise StudyInputError(
            f"--runs {' '.join(args.runs)}: no metric to compare with the votes; the runs hold "
            + (f"{', '.join(held)} (direction unknown: pass --metric NAME=higher|lower)" if held else "no metric "
               "values at all (run `lumiere-eval metrics` or `ucf101` on them first)"))
    votes, _ = _counted(args, study)
    results, lines = {}, ["# Metric-human agreement", ""]
    for question, question_list in votes.items():
        if not question_list:
            continue
        results[question] = agreement(study_votes(question_list, study["models"], study), metrics, args.prior,
                                      args.resamples, args.seed)
        lines += [f"## {question}", ""] + markdown_table(results[question], question) + [""]
    if metrics.skipped:
        lines.append(f"Not compared (direction unknown; pass --metric NAME=higher|lower): {', '.join(metrics.skipped)}.")
    out = args.out or args.study / "agreement"
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "agreement.json", {"study_id": study["study_id"], "questions": results})
    (out / "agreement.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines) + f"\nwrote {out / 'agreement.json'}, {out / 'agreement.md'}")
    return 0
