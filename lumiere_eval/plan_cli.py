"""`lumiere-eval plan samples|votes`: how many samples per model, or votes, a difference needs (power planning)."""
from __future__ import annotations

import argparse
from pathlib import Path

from lumiere_eval.cli_types import float_range, int_range


def _difference(text: str) -> tuple[str, float]:
    name, _, value = text.partition("=")
    try:
        return name.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (e.g. fvd=-5), got {text!r}") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of `lumiere-eval plan`."""
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    samples = actions.add_parser("samples", help="samples per model to detect a metric difference, from a pilot")
    samples.add_argument("run_a", type=Path, help="pilot run A (differences are A - B)")
    samples.add_argument("run_b", type=Path, nargs="?", default=None,
                         help="pilot run B, paired with A; without it give --difference for each metric")
    samples.add_argument("--difference", type=_difference, action="append", default=[], metavar="NAME=VALUE",
                         help="difference A - B at infinite N to detect (repeat; default with two runs: the pilot's)")
    samples.add_argument("--power", type=float_range(0, 1, low_open=True, high_open=True), default=0.8,
                         help="probability of detecting the difference")
    samples.add_argument("--alpha", type=float_range(0, 1, low_open=True, high_open=True), default=0.05,
                         help="two-sided level of the test (divide by the number of metrics for Holm)")
    samples.add_argument("--bootstrap", type=int_range(10, 100000), default=200,
                         help="half-sampling resamples per pilot sample size")
    samples.add_argument("--start", type=int_range(4), default=16, help="smallest pilot sample size of the fit")
    samples.add_argument("--bias", choices=("none", "fitted"), default="none",
                         help="plan with the pilot's fitted difference of 1/N bias slopes (set metrics), or without")
    samples.add_argument("--seed", type=int_range(0), default=0, help="seed of the subsets and resamples")
    votes = actions.add_parser("votes", help="2AFC votes (and MTurk cost) to detect a preference, by simulation")
    target = votes.add_mutually_exclusive_group(required=True)
    target.add_argument("--preference", type=float_range(0.5, 1, low_open=True, high_open=True), default=None,
                        help="preference rate of the better model among decided votes, in (0.5, 1)")
    target.add_argument("--gap", type=float_range(0, low_open=True), default=None,
                        help="Bradley-Terry log-strength gap, > 0")
    target.add_argument("--pilot", nargs="+", type=Path, default=None, metavar="PATH",
                        help="a pilot study folder then its results CSV(s): the Davidson fit gives gap and tie rate")
    votes.add_argument("--models", nargs=2, default=None, metavar=("A", "B"), help="with --pilot: the two models")
    votes.add_argument("--question", default="quality", help="with --pilot: the question whose votes are fitted")
    votes.add_argument("--tie-parameter", type=float_range(0), default=0.0,
                       help="Davidson's nu (0: no ties); --pilot fits it")
    votes.add_argument("--power", type=float_range(0, 1, low_open=True, high_open=True), default=0.8,
                       help="probability of detecting the preference")
    votes.add_argument("--alpha", type=float_range(0, 1, low_open=True, high_open=True), default=0.05,
                       help="two-sided level of the sign test")
    votes.add_argument("--raters", type=int_range(1), default=3, help="workers per pair (MTurk assignments per HIT)")
    votes.add_argument("--reward", default="0.10", help="USD per assignment, as `study create --reward`")
    votes.add_argument("--prompts", type=int_range(1), default=100, help="prompts the votes are spread over")
    votes.add_argument("--simulations", type=int_range(20), default=200, help="simulated studies per vote count")
    votes.add_argument("--seed", type=int_range(0), default=0, help="seed of the simulations")


def run(args: argparse.Namespace) -> int:
    """Print the plan."""
    import math

    from lumiere_eval import LumiereEvalError

    if args.action == "samples":
        from lumiere_eval.runner.plan import plan_markdown, plan_samples

        plan = plan_samples(args.run_a, args.run_b, dict(args.difference), args.alpha, args.power, args.bootstrap,
                            args.seed, args.start, use_bias=args.bias == "fitted")
        print(plan_markdown(plan), end="")
        return 0
    from lumiere_eval.human_study.study import load_study
    from lumiere_eval.human_study.vote_plan import (
        pilot_fit,
        preference_to_gap,
        vote_plan,
    )

    nu = args.tie_parameter
    if args.pilot:
        if not args.models or len(args.pilot) < 2:
            raise LumiereEvalError("--pilot needs the study folder and at least one results CSV, and --models A B")
        try:
            fitted = pilot_fit(load_study(args.pilot[0]), args.pilot[1:], args.question, *args.models)
        except ValueError as err:
            raise LumiereEvalError(f"{args.pilot[0]}: {err}") from None
        gap, nu = abs(fitted["gap"]), fitted["nu"]
        print(f"pilot: {fitted['votes']} votes on {args.question}: gap {fitted['gap']:+.3f}, nu {nu:.3f}")
    else:
        gap = args.gap if args.gap is not None else preference_to_gap(args.preference)
    plan = vote_plan(gap, args.power, nu, args.raters, args.alpha, args.reward, args.simulations, args.prompts,
                     args.seed)
    if plan["votes"] is None:
        print(f"no plan: {plan['reason']}")
        return 0
    print(f"gap {gap:.3f} (preference {plan['preference_rate']:.3f} among decided votes), nu {nu:.3f}: "
          f"{plan['votes']} votes ({math.ceil(plan['votes'] / args.raters)} pairs x {args.raters} raters) reach "
          f"simulated power {plan['power']:.3f} (target {args.power}, alpha {args.alpha}, {args.simulations} "
          f"simulated studies); MTurk cost at ${args.reward} per assignment, fees included: ${plan['cost_usd']}")
    return 0
