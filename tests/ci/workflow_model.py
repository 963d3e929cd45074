"""Reading the GitHub Actions workflows the way the tests need them.

`load_workflows()` parses every `.github/workflows/*.yml`; `invocations()` finds each `make`
and `spendsense` command in the `run:` steps, with `${{ matrix.* }}` and the step's and job's
`env:` substituted (the first matrix value stands for all: every value is a stack name the
command accepts, which a separate test checks), so a test can hand the arguments to the Makefile
and to the real click command tree.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO_ROOT / ".github" / "workflows"
SHELL_OPERATORS = {"|", "||", "&&", ";", ">", ">>", "<", "2>", "2>&1", "&", "|&"}
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
SHELL_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


@dataclass(frozen=True)
class Workflow:
    path: Path
    data: dict[Any, Any]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def triggers(self) -> dict[str, Any]:
        # YAML 1.1 reads the bare key `on` as the boolean True.
        on = self.data.get("on", self.data.get(True))
        if isinstance(on, str):
            return {on: None}
        if isinstance(on, list):
            return dict.fromkeys(on)
        return dict(on or {})

    @property
    def jobs(self) -> dict[str, dict[str, Any]]:
        return dict(self.data.get("jobs") or {})


@dataclass(frozen=True)
class Invocation:
    workflow: str
    job: str
    step: str
    line: str
    program: str  # "make" or "spendsense"
    args: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.workflow}:{self.job}:{' '.join([self.program, *self.args])}"


def load_workflows() -> list[Workflow]:
    return [
        Workflow(path, yaml.safe_load(path.read_text(encoding="utf-8")))
        for path in sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])
    ]


def steps(workflow: Workflow) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(job id, job, step) for every step of every job."""
    for job_id, job in workflow.jobs.items():
        for step in job.get("steps") or []:
            yield job_id, job, step


def _first_matrix_values(job: Mapping[str, Any]) -> dict[str, str]:
    matrix = (job.get("strategy") or {}).get("matrix") or {}
    return {
        key: str(values[0])
        for key, values in matrix.items()
        if isinstance(values, list) and values and key not in {"include", "exclude"}
    }


def _expand_expressions(text: str, matrix: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        expression = match.group(1)
        if expression.startswith("matrix."):
            return matrix.get(expression.removeprefix("matrix."), "MATRIX")
        return "EXPRESSION"

    return EXPRESSION.sub(replace, text)


def _substitute(line: str, env: Mapping[str, str]) -> str:
    """`$NAME` / `${NAME}` replaced by the step's env value, when the step sets it."""

    def replace(match: re.Match[str]) -> str:
        return env.get(match.group(1), match.group(0))

    return SHELL_VAR.sub(replace, line)


def _logical_lines(script: str) -> Iterator[str]:
    pending = ""
    for raw in script.splitlines():
        line = raw.rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        yield (pending + line).strip()
        pending = ""
    if pending:
        yield pending.strip()


def _words(line: str) -> list[str]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars="|&;<>")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        return list(lexer)
    except ValueError:  # an unbalanced quote inside a heredoc or similar: not a command line
        return []


def _command_at(words: list[str], start: int) -> tuple[str, ...]:
    args: list[str] = []
    for word in words[start:]:
        if word in SHELL_OPERATORS or word.startswith(("|", "&", ";", ">", "<")):
            break
        args.append(word)
    return tuple(args)


def invocations(workflow: Workflow) -> Iterator[Invocation]:
    """Every `make ...` and `spendsense ...` command in the workflow's `run:` steps."""
    for job_id, job, step in steps(workflow):
        script = step.get("run")
        if not script:
            continue
        matrix = _first_matrix_values(job)
        env = {
            key: _expand_expressions(str(value), matrix)
            for key, value in {**(job.get("env") or {}), **(step.get("env") or {})}.items()
        }
        for line in _logical_lines(_expand_expressions(str(script), matrix)):
            if not line or line.startswith("#"):
                continue
            expanded = _substitute(line, env)
            # Commands inside $( ... ) count too: look at the words after each "$(".
            words = _words(expanded.replace("$(", " ").replace(")", " "))
            for index, word in enumerate(words):
                name = word.rsplit("/", 1)[-1]
                if name == "make" or (
                    name == "spendsense" and word in {"spendsense", ".venv/bin/spendsense"}
                ):
                    previous = words[index - 1] if index else ""
                    if (
                        previous
                        and previous not in SHELL_OPERATORS
                        and previous not in {"then", "do", "else", "time", "exec", "-c"}
                    ):
                        continue  # an argument (e.g. `echo make`), not a command
                    yield Invocation(
                        workflow=workflow.name,
                        job=job_id,
                        step=str(step.get("name") or step.get("run", "")[:40]),
                        line=line,
                        program="make" if name == "make" else "spendsense",
                        args=_command_at(words, index + 1),
                    )


def makefile_targets(makefile: Path = REPO_ROOT / "Makefile") -> set[str]:
    """Targets the Makefile defines (rules `name:` at the start of a line, not variables)."""
    targets: set[str] = set()
    for line in makefile.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_.%/-]+(?:\s+[A-Za-z0-9_.%/-]+)*)\s*:(?!=)", line)
        if match and not line.startswith((".PHONY", "\t")):
            targets.update(match.group(1).split())
    return targets


def uses_lines(workflow: Workflow) -> list[tuple[int, str]]:
    """(line number, text) of every `uses:` line in the raw file, comments included."""
    return [
        (number, line.strip())
        for number, line in enumerate(workflow.path.read_text(encoding="utf-8").splitlines(), 1)
        if re.match(r"^\s*(-\s+)?uses:\s", line)
    ]
