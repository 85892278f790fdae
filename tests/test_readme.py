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
        main([argv[0], "--help"] if argv[0] not in ("weights", "study") else [argv[0], argv[1], "--help"])
    assert done.value.code == 0
    help_text = capsys.readouterr().out
    for option in (a for a in argv if a.startswith("--")):
        assert option in help_text, f"README uses {option} which `{argv[0]}` does not take"
