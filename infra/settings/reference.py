"""docs/configuration.md's tables, built from the settings models' fields and descriptions.

Each table sits between ``<!-- settings-table: <object> -->`` and ``<!-- end settings-table -->``
in docs/configuration.md (``<object>``: ``top-level`` or a `spendsense:` object such as ``api``);
headings and prose around them are written by hand. ``python -m infra.settings.reference``
rewrites the tables in place; tests/docs/test_configuration_tables.py fails while the committed
page differs from what this module builds, so a field, a description or a runbook number in a
description (read from `infra.limits`) changes the page in one place.
"""

from __future__ import annotations

import re
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from infra.settings.loader import OBJECTS, Settings
from infra.settings.rules import NAMESPACE, REPO_ROOT

PAGE = REPO_ROOT / "docs" / "configuration.md"
TOP_LEVEL = "top-level"
# Settings fields that are the providers' own keys, not `spendsense:` keys.
FOREIGN_KEYS = {"aws_region": "aws:region", "gcp_project": "gcp:project"}
_BLOCK = re.compile(
    r"(<!-- settings-table: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- end settings-table -->)",
    re.DOTALL,
)
_TYPES = {str: "string", int: "int", float: "number", bool: "bool", tuple: "list", dict: "map"}


class ReferenceError(Exception):
    """The page lacks a table the models need, or has one they do not."""


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin is typing.Literal:
        return "string"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "map"
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in typing.get_args(annotation) if a is not type(None)]
        return " or ".join(names)
    return _TYPES.get(origin or annotation, getattr(annotation, "__name__", str(annotation)))


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.default
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dict):
        return "`{}`" if not value else f"`{value}`"
    return f"`{value}`"


def _description(model: type[BaseModel], name: str, field: FieldInfo) -> str:
    if not field.description:
        raise ReferenceError(f"{model.__name__}.{name} has no Field(description=...)")
    return field.description.replace("|", "\\|")


def _row(key: str, model: type[BaseModel], name: str, field: FieldInfo) -> str:
    return (
        f"| `{key}` | {_type_name(field.annotation)} | {_default(field)} | "
        f"{_description(model, name, field)} |"
    )


def table(name: str) -> str:
    """The Markdown table of one object (``api``) or of the top-level keys."""
    lines = ["| key | type | default | description |", "|---|---|---|---|"]
    if name == TOP_LEVEL:
        for field_name, field in Settings.model_fields.items():
            if field_name in OBJECTS:
                continue
            key = FOREIGN_KEYS.get(field_name, f"{NAMESPACE}:{field.alias or _camel(field_name)}")
            lines.append(_row(key, Settings, field_name, field))
    else:
        model = OBJECTS[name]
        for field_name, field in model.model_fields.items():
            lines.append(_row(field.alias or _camel(field_name), model, field_name, field))
    return "\n".join(lines) + "\n"


def table_names() -> list[str]:
    return [TOP_LEVEL, *OBJECTS]


def render(page_text: str) -> str:
    """`page_text` with every table replaced by the one the models define."""
    seen: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in table_names():
            raise ReferenceError(f"{PAGE.name}: settings-table {name} is not a settings object")
        seen.append(name)
        return match.group(1) + table(name) + match.group(4)

    text = _BLOCK.sub(replace, page_text)
    missing = [name for name in table_names() if name not in seen]
    if missing:
        raise ReferenceError(
            f"{PAGE.name} has no settings-table for {', '.join(missing)}; add "
            "`<!-- settings-table: NAME -->` and `<!-- end settings-table -->` where it belongs"
        )
    return text


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def main(argv: list[str]) -> int:
    """Rewrite the page's tables (or, with --check, say whether they are current)."""
    page = Path(argv[0]) if argv and not argv[0].startswith("-") else PAGE
    text = page.read_text(encoding="utf-8")
    try:
        rendered = render(text)
    except ReferenceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if "--check" in argv:
        if rendered != text:
            print(
                f"{page}: settings tables are out of date; run python -m infra.settings.reference"
            )
            return 1
        return 0
    page.write_text(rendered, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
