"""The `lumiere-eval` command line.

Each subcommand lives in its own module, which defines `add_arguments(parser)` and `run(args) -> int`.
Modules are imported only when their subcommand runs, so `lumiere-eval --help` stays fast and does not
import torch extensions, diffusers, boto3 or streamlit.
"""
from __future__ import annotations

import argparse
import importlib
import re
import sys

from lumiere_eval import LumiereEvalError, __version__

# name -> (module, one-line help). Add a line here to add a subcommand.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "ucf101": ("lumiere_eval.runner.cli", "Zero-shot UCF101 on any registered metric (default FVD, IS, CLIPSIM); the embedded synthetic default without data."),
    "metrics": ("lumiere_eval.runner.metrics_cli", "Compare real and generated videos on any registered metric (--list-metrics)."),
    "weights": ("lumiere_eval.extractors.cli", "List, fetch, verify and locate the pretrained weights of the extractors."),
    "video-info": ("lumiere_eval.video.cli", "A video's frames (decodable and declared), size and fps; flags truncated files."),
    "study": ("lumiere_eval.human_study.cli", "2AFC human studies on Mechanical Turk: create, publish, fetch, review, analyze, leaderboard, next, agreement."),
    "train": ("lumiere_eval.training.lumiere_cli", "Train or resume one stage of the tiny reference Lumiere."),
    "train-sd": ("lumiere_eval.training.lumiere_sd_cli", "Train or resume the temporal layers of a diffusers T2I model inflated into a Space-Time U-Net (lumiere-sd)."),
    "synthetic": ("lumiere_eval.datasets.synthetic_cli", "Write the synthetic action domain to disk in the UCF101 layout."),
    "generate": ("lumiere_eval.models.generate_cli", "Generate videos for a prompt list with any model; writes a manifest, resumes."),
    "train-evaluators": ("lumiere_eval.training.evaluators", "Train the in-domain evaluators (classifier for FVD/IS, video-text model for CLIPSIM) on the synthetic domain."),
    "compare": ("lumiere_eval.runner.compare_cli", "Paired comparison of two runs (same prompts and seeds): differences, intervals, corrected p-values."),
    "report": ("lumiere_eval.runner.report_cli", "One table of several runs (row per model, column per metric) in Markdown, LaTeX, CSV or JSON, marked against a baseline."),
    "plan": ("lumiere_eval.plan_cli", "Power planning: samples per model to detect a metric difference from a pilot, or 2AFC votes and their MTurk cost."),
    "curves": ("lumiere_eval.runner.curves_cli", "Sample-size curves of a run's set metrics (FVD, KVD, IS) with intervals; warns when unsettled."),
    "motion": ("lumiere_eval.runner.motion_cli", "Weight-free motion tier (OpenCV flow, VBench's rules) on a run folder or video files."),
    "dashboard": ("lumiere_eval.dashboard.cli", "Browse results in a Streamlit dashboard on 127.0.0.1: leaderboard, runs, videos, studies."),
}


_STATES_DEFAULT = re.compile(r"\(default\b|\bdefaults?:|[;,] default |^default ", re.IGNORECASE)


class OneDefaultHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends "(default: X)" only where the help does not already say its default and there is one to show
    (not None or False), so every option states one default."""

    def _get_help_string(self, action):
        text = action.help or ""
        if _STATES_DEFAULT.search(text) or action.default in (None, False, argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser; subcommand parsers are filled in lazily by `main`."""
    parser = argparse.ArgumentParser(
        prog="lumiere-eval",
        description="Evaluate text-to-video models: zero-shot UCF101 (FVD, IS, CLIPSIM), human studies, dashboards.",
    )
    parser.add_argument("--version", action="version", version=f"lumiere-eval {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_text) in SUBCOMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse, dispatch to the subcommand module, turn harness errors into one clear line."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0] not in SUBCOMMANDS:
        parser.parse_args(argv)  # handles --help / --version / unknown commands
        parser.print_help()
        return 2
    name = argv[0]
    module_name, help_text = SUBCOMMANDS[name]
    module = importlib.import_module(module_name)
    sub_parser = argparse.ArgumentParser(prog=f"lumiere-eval {name}", description=help_text,
                                         formatter_class=OneDefaultHelpFormatter)
    module.add_arguments(sub_parser)
    args = sub_parser.parse_args(argv[1:])
    try:
        return int(module.run(args) or 0)
    except LumiereEvalError as err:
        print(f"lumiere-eval {name}: error: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # a file fault (disk full, read-only folder) not caught closer: path and cause
        if err.filename is None:
            raise
        print(f"lumiere-eval {name}: error: {err.filename}: {err.strerror}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
