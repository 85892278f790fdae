"""`lumiere-eval weights list | fetch NAME | verify [NAME ...] | path NAME`."""
from __future__ import annotations

import argparse

from lumiere_eval.cli_types import float_range
from lumiere_eval.extractors import weights


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Subcommands of `lumiere-eval weights`."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="List the known weight files, their cache state and checksum source.")
    fetch = actions.add_parser("fetch", help="Download weights into the cache (resumes a partial file).")
    fetch.add_argument("name", type=str, choices=sorted(weights.WEIGHTS), help="Registered weights name.")
    fetch.add_argument("--url", type=str, default=None, help="Download from this mirror instead of the official URL.")
    fetch.add_argument("--timeout", type=float_range(0, low_open=True), default=10.0,
                       help="Seconds to wait for any connect or read.")
    verify = actions.add_parser("verify", help="Check cached weights (SHA-256 where published, else format).")
    verify.add_argument("names", type=str, nargs="*", default=[], help="Names to check (default: all cached).")
    path = actions.add_parser("path", help="Print where the cache keeps weights NAME.")
    path.add_argument("name", type=str, choices=sorted(weights.WEIGHTS), help="Registered weights name.")


def run(args: argparse.Namespace) -> int:
    """Run one weights action; returns 1 if a verification failed."""
    if args.action == "list":
        print(f"cache: {weights.cache_dir()}")
        for spec in weights.WEIGHTS.values():
            state = "cached" if weights.cached_path(spec.name).is_file() else "missing"
            print(f"{spec.name:20s} {state:8s} {spec.filename:40s} {spec.flag:12s} {spec.description}")
            print(f"{'':20s} sha256: {spec.sha256 or '-'} ({spec.checksum_source})")
            print(f"{'':20s} licence: {spec.licence}")
        return 0
    if args.action == "fetch":
        print(weights.fetch(args.name, url=args.url, timeout=args.timeout))
        return 0
    if args.action == "path":
        print(weights.cached_path(args.name))
        return 0
    names = args.names or [n for n in weights.WEIGHTS if weights.cached_path(n).is_file()]
    failed = 0
    for name in names:
        try:
            resolved = weights.verify(name)
            print(f"{name:20s} ok      {resolved.status} ({resolved.sha256})")
        except weights.WeightsError as err:
            failed += 1
            print(f"{name:20s} FAILED  {err}")
    if not names:
        print(f"no weights cached in {weights.cache_dir()}")
    return 1 if failed else 0
