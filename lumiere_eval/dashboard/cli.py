"""`lumiere-eval dashboard [RESULTS_ROOT] [--port N]`: the Streamlit results dashboard on 127.0.0.1."""
from __future__ import annotations

import argparse
import os
import sys
from importlib import resources
from pathlib import Path

from lumiere_eval import LumiereEvalError
from lumiere_eval.cli_types import int_range


class DashboardError(LumiereEvalError):
    """The dashboard cannot start (missing results root, Streamlit not installed)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `lumiere-eval dashboard`."""
    parser.add_argument("results_root", nargs="?", type=Path, default=Path("runs"),
                        help="Folder holding run folders (results.json), comparisons and study analyses.")
    parser.add_argument("--port", type=int_range(0, 65535), default=8501,
                        help="Port on 127.0.0.1 to serve the dashboard on.")


def command(port: int) -> list[str]:
    """The `streamlit run` command line for the app file shipped in this package, bound to 127.0.0.1."""
    app = resources.files("lumiere_eval.dashboard").joinpath("app.py")
    return [sys.executable, "-m", "streamlit", "run", str(app), "--server.address", "127.0.0.1",
            "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--client.toolbarMode", "minimal",
            "--global.developmentMode", "false"]


def run(args: argparse.Namespace) -> int:
    """Serve the app for `args.results_root`: this process becomes `streamlit run` (does not return)."""
    root = Path(args.results_root).resolve()
    if not 0 < args.port < 65536:
        raise DashboardError(f"--port {args.port}: not a TCP port (1-65535)")
    if not root.is_dir():
        raise DashboardError(f"{args.results_root}: results root is not a folder")
    try:
        import streamlit  # noqa: F401  (checked here so a missing install is one clear line)
    except ImportError as err:
        raise DashboardError("streamlit is not installed: pip install streamlit") from err
    env = dict(os.environ, LUMIERE_EVAL_DASHBOARD_ROOT=str(root))
    print(f"dashboard for {root} on http://127.0.0.1:{args.port}/", flush=True)
    line = command(args.port)
    # replace this process with Streamlit, so a signal to it (Ctrl-C, terminate) stops the server itself
    os.execve(line[0], line, env)
    return 0  # not reached
