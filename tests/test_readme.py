"""README examples name real subcommands whose options exist (the full examples need data and weights)."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from lumiere_eval.cli import SUBCOMMANDS, main

README = Path(__file__).resolve().parents[1] / "README.md"


def _commands() -> list[list[str]]:
    text = README.read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    commands = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("#")[0].strip()
            if line.startswith("lumiere-eval "):
                commands.append(shlex.split(line)[1:])
    return commands


def test_readme_has_the_two_commands_first():
    text = README.read_text()
    first = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    assert first.startswith("make demo") and "make test" in first
    assert "make test" in (README.parent / ".ci" / "run").read_text()


@pytest.mark.parametrize("argv", _commands(), ids=lambda a: " ".join(a[:2]))
def test_readme_command_parses(argv, capsys):
    assert argv[0] in SUBCOMMANDS
    with pytest.raises(SystemExit) as done:
        main([argv[0], "--help"] if argv[0] not in ("weights", "study", "plan") else [argv[0], argv[1], "--help"])
    assert done.value.code == 0
    help_text = capsys.readouterr().out
    for option in (a for a in argv if a.startswith("--")):
        assert option in help_text, f"README uses {option} which `{argv[0]}` does not take"


def _parser_defaults() -> dict[str, set[str]]:
    """Every option of every subcommand (study and weights actions included) -> the defaults its parsers give."""
    import argparse
    import importlib

    defaults: dict[str, set[str]] = {}

    def collect(parser: argparse.ArgumentParser) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    collect(sub)
            for option in action.option_strings:
                defaults.setdefault(option, set()).add(str(action.default))

    for module_name, _ in SUBCOMMANDS.values():
        parser = argparse.ArgumentParser()
        importlib.import_module(module_name).add_arguments(parser)
        collect(parser)
    return defaults


def _same_value(readme: str, default: str) -> bool:
    if readme.endswith("%"):
        readme = str(float(readme[:-1]) / 100)
    try:
        return float(readme) == float(default)
    except ValueError:
        return readme == default


def test_readme_option_defaults_equal_the_parsers():
    """Every "`--option` ... default X" in the README is the default some subcommand's parser gives it."""
    text = " ".join(README.read_text().split())
    defaults = _parser_defaults()
    stated = re.findall(r"`(--[a-z0-9-]+)`(?:(?!`--)[^.;])*?\bdefault `?([^`),:\s]+)`?", text)
    assert len(stated) >= 4, stated
    for option, value in stated:
        assert option in defaults, f"README names {option}, which no subcommand takes"
        assert any(_same_value(value, d) for d in defaults[option]), \
            f"README says {option} defaults to {value}; the parsers say {sorted(defaults[option])}"


def test_readme_lists_every_subcommand():
    text = README.read_text()
    missing = [name for name in SUBCOMMANDS if not re.search(rf"lumiere-eval {re.escape(name)}\b", text)]
    assert not missing, f"README never shows the subcommand(s) {missing}"


@pytest.mark.parametrize("name", ["ucf101", "metrics", "compare", "motion", "curves", "generate"])
def test_help_states_one_default_per_option(name, capsys):
    with pytest.raises(SystemExit):
        main([name, "--help"])
    options = re.split(r"\n  (?=-)", capsys.readouterr().out)
    doubled = [o.split()[0] for o in options if len(re.findall(r"\(default\b|\bdefault:", " ".join(o.split()))) > 1]
    assert not doubled, f"`{name} --help` states two defaults for {doubled}"
