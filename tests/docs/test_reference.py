"""The reference pages document every key, policy and output the code defines.

Read from the code itself, so a new setting, policy or stack output fails here until its page
says what it is:

- every field of the settings models (`infra.settings.Settings` and the models under it), as a
  user writes it in a stack file (`spendsense:api.minInstances`), has a row in a table of the
  configuration reference: docs/configuration.md and the docs pages it links to;
- every policy the pack registers (`spendsense_policies.all_policies()`) in docs/policies.md;
- every stack output the program exports (`spendsense plan --json`) in an outputs table (a
  Markdown table whose first column is headed "output") of README.md or docs/;
- every link to docs/design.md#<anchor> anywhere in the repository names an anchor that exists,
  and the design record's own links (and its decision records') reach existing files.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import typing
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel
from pydantic.alias_generators import to_camel

from tests.docs.repository import REPO_ROOT, repository_files

DOCS = REPO_ROOT / "docs"
CONFIGURATION = DOCS / "configuration.md"
POLICIES = DOCS / "policies.md"
DESIGN = DOCS / "design.md"

# Settings fields that are not `spendsense:` keys: the providers' own keys.
FOREIGN_KEYS = {"aws_region": "aws:region", "gcp_project": "gcp:project"}

_TICKED = re.compile(r"`([^`\n]+)`")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_LINK = re.compile(r"\]\(([^)#\s]+\.md)(?:#[^)\s]*)?\)")


# ---------------------------------------------------------------------------------------------
# What the code defines
# ---------------------------------------------------------------------------------------------
def _models_in(annotation: object) -> Iterator[type[BaseModel]]:
    """The settings models an annotation holds (plain, Optional, Annotated, ...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)


def _field_keys(model: type[BaseModel], prefix: str) -> Iterator[str]:
    for name, field in model.model_fields.items():
        key = f"{prefix}.{field.alias or to_camel(name)}"
        nested = list(_models_in(field.annotation))
        if nested:
            for sub in nested:
                yield from _field_keys(sub, key)
        else:
            yield key


def settings_keys() -> list[str]:
    """Every stack config key the settings models define, as written in a stack file."""
    from infra.settings import Settings

    keys: list[str] = []
    for name, field in Settings.model_fields.items():
        if name in FOREIGN_KEYS:
            keys.append(FOREIGN_KEYS[name])
            continue
        key = f"spendsense:{to_camel(name)}"
        nested = list(_models_in(field.annotation))
        if nested:
            for model in nested:
                keys.extend(_field_keys(model, key))
        else:
            keys.append(key)
    return keys


def policy_names() -> list[str]:
    from spendsense_policies import all_policies

    return [policy.name for policy in all_policies()]


def exported_outputs() -> list[str]:
    """The stack outputs of the real program, from the offline plan's JSON (contract 1)."""
    result = subprocess.run(
        [sys.executable, "-m", "spendsense", "plan", "--stack", "production", "--json"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode in (0, 1), f"spendsense plan failed: {result.stderr.strip()}"
    return list(json.loads(result.stdout)["outputs"])


# ---------------------------------------------------------------------------------------------
# What the docs say
# ---------------------------------------------------------------------------------------------
def _linked_pages(page: Path) -> list[Path]:
    """`page` and the Markdown pages of the repository it links to (one level)."""
    pages = [page]
    for target in _LINK.findall(page.read_text(encoding="utf-8")):
        linked = (page.parent / target).resolve()
        if linked.is_file() and linked.is_relative_to(REPO_ROOT) and linked not in pages:
            pages.append(linked)
    return pages


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def documented_keys(pages: list[Path], objects: set[str]) -> set[str]:
    """Keys that have a row in a table of `pages`: the row's first cell holds `api.cpu` or
    `spendsense:api.cpu` (or a top-level key: `spendsense:environment`, `aws:region`), or `cpu`
    in a table under a heading that names one object (`## spendsense:api`)."""
    found: set[str] = set()
    for page in pages:
        context: str | None = None
        for line in page.read_text(encoding="utf-8").splitlines():
            heading = _HEADING.match(line)
            if heading:
                named = set(re.findall(r"spendsense:([A-Za-z]+)", heading.group(2))) & objects
                context = named.pop() if len(named) == 1 else None
                continue
            if not line.lstrip().startswith("|"):
                continue
            for token in (t.strip() for t in _TICKED.findall(_cells(line)[0])):
                if re.fullmatch(r"(aws|gcp|spendsense):[A-Za-z.]+", token):
                    found.add(token)
                elif "." in token and token.split(".")[0] in objects:
                    found.add(f"spendsense:{token}")
                elif context:
                    found.add(f"spendsense:{context}.{token}")
    return found


def table_first_cells(text: str, header: str) -> set[str]:
    """Backticked names in the first column of every table whose first header cell is `header`."""
    names: set[str] = set()
    in_table = matching = False
    for line in text.splitlines():
        if not line.lstrip().startswith("|"):
            in_table = False
            continue
        first = _cells(line)[0]
        if not in_table:  # a table's first row is its header
            in_table, matching = True, first.strip("*").lower() == header
        elif matching:
            names.update(token.strip() for token in _TICKED.findall(first))
    return names


def _anchors(page: Path) -> set[str]:
    """Explicit `<a id="...">` anchors and GitHub's heading slugs."""
    text = page.read_text(encoding="utf-8")
    anchors = set(re.findall(r'<a\s+(?:id|name)="([^"]+)"', text))
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            title = re.sub(r"<[^>]+>", "", heading.group(2)).strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


# ---------------------------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------------------------
def test_every_stack_config_key_is_documented() -> None:
    from infra.settings import Settings

    keys = settings_keys()
    assert "spendsense:api.minInstances" in keys  # the walk reads the models as users write them
    objects = {
        to_camel(name)
        for name, field in Settings.model_fields.items()
        if list(_models_in(field.annotation))
    }
    pages = _linked_pages(CONFIGURATION)
    documented = documented_keys(pages, objects)
    missing = [key for key in keys if key not in documented]
    assert not missing, (
        f"stack config keys not documented in {CONFIGURATION.relative_to(REPO_ROOT)} or the "
        f"pages it links to ({', '.join(p.name for p in pages[1:])}): {', '.join(missing)}"
    )


def test_every_policy_is_documented() -> None:
    names = policy_names()
    assert len(names) == len(set(names)), "two policies share a name"
    documented = table_first_cells(POLICIES.read_text(encoding="utf-8"), "policy")
    missing = [name for name in names if name not in documented]
    assert not missing, f"policies missing from the table in docs/policies.md: {missing}"
    unknown = sorted(documented - set(names))
    assert not unknown, f"docs/policies.md lists policies the pack does not have: {unknown}"


def test_every_stack_output_is_documented() -> None:
    pages = [REPO_ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
    documented: set[str] = set()
    for page in pages:
        documented |= table_first_cells(page.read_text(encoding="utf-8"), "output")
    outputs = exported_outputs()
    assert "api_url" in outputs
    missing = [name for name in outputs if name not in documented]
    assert not missing, f"stack outputs in no outputs table of README.md or docs/: {missing}"


def test_links_to_the_design_record_name_existing_anchors() -> None:
    anchors = _anchors(DESIGN) | {""}
    broken: list[str] = []
    for path in repository_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for number, line in enumerate(text.splitlines(), 1):
            for anchor in re.findall(r"design\.md#([\w\-]+)", line):
                if anchor not in anchors:
                    broken.append(f"{path.relative_to(REPO_ROOT)}:{number}: #{anchor}")
    assert not broken, "links to docs/design.md anchors that do not exist:\n" + "\n".join(broken)


def test_the_design_record_links_to_existing_files() -> None:
    pages = [DESIGN, *sorted((DOCS / "adr").glob("*.md"))]
    assert len(pages) > 1, "docs/adr/ has no decision records"
    broken = [
        f"{page.relative_to(REPO_ROOT)}: {target}"
        for page in pages
        for target in re.findall(
            r"\]\(([^)#\s:]+)(?:#[^)\s]*)?\)", page.read_text(encoding="utf-8")
        )
        if not (page.parent / target).exists()
    ]
    assert not broken, "links to files that do not exist:\n" + "\n".join(broken)
