"""Reading the files users hand to the CLI: one bounded reader, one JSON and one YAML loader.

Every file option (`--config`, `--outputs`, `$SPENDSENSE_OUTPUTS`, `--rules`, the policy
config, the stack files the guards read) goes through `read_text`, so that:

- only a regular file is read: a FIFO (opened without blocking), a directory, `/dev/zero`,
  `/dev/urandom` or a socket is refused before a byte is read;
- at most `limit` bytes are read, whatever the file claims its size is (a file that grows
  while it is read is refused too);
- the text must be UTF-8 without NUL bytes (a binary file is refused).

`load_json` and `load_yaml` then parse that text without letting hostile documents through:
nesting deeper than `MAX_DEPTH` (100,000 levels would be a RecursionError), YAML aliases that
expand to more than `MAX_NODES` nodes ("billion laughs": a MemoryError in whatever walks the
result), duplicate keys (refused naming the key and both lines, as the Pulumi CLI refuses
them in stack files), and JSON's non-standard `NaN`/`Infinity`. Every refusal is `BadInput`
(exit 2): one line naming the option (or environment variable) and the file.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from spendsense.errors import BadInput
from spendsense.units import KIB, MIB, exact_size

# The limits (docs/operations.md, "Files the commands read"). Real files are far smaller:
# a stack file is ~5 KB, the outputs ~2 KB, the rules ~10 KB.
DEFAULT_LIMIT = 1 * MIB
MAX_DEPTH = 100
MAX_NODES = 100_000


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_bytes(path: str | Path, option: str, *, limit: int = DEFAULT_LIMIT, what: str) -> bytes:
    """The bytes of the regular file `path`, at most `limit` of them; BadInput naming `option`
    otherwise. `what` says what the file should be ("a JSON file of stack outputs")."""
    text_path = str(path)
    if not text_path.strip() or "\x00" in text_path:
        raise BadInput(f"{option}: {text_path!r} is not a file path; pass {what}")
    try:
        # O_NONBLOCK: opening a FIFO nobody writes to must not hang; it is refused below.
        fd = os.open(text_path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise BadInput(f"{option}: {text_path} does not exist; pass {what}") from None
    except IsADirectoryError:
        raise BadInput(f"{option}: {text_path} is a directory; pass {what}") from None
    except OSError as exc:
        raise BadInput(
            f"{option}: cannot open {text_path} ({exc.strerror or type(exc).__name__}); pass {what}"
        ) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise BadInput(
                f"{option}: {text_path} is {_kind(info.st_mode)}, not a regular file; pass {what}"
            )
        if info.st_size > limit:
            raise BadInput(
                f"{option}: {text_path} is {info.st_size} bytes, over the limit of "
                f"{exact_size(limit)}; pass {what}"
            )
        chunks: list[bytes] = []
        left = limit + 1  # one byte more than allowed tells a file that grew past the limit
        while left > 0:
            try:
                chunk = os.read(fd, min(left, 64 * KIB))
            except BlockingIOError:  # pragma: no cover - regular files never block
                continue
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
    except OSError as exc:
        raise BadInput(
            f"{option}: cannot read {text_path} ({exc.strerror or type(exc).__name__}); pass {what}"
        ) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise BadInput(
            f"{option}: {text_path} grew past the limit of {exact_size(limit)} while it "
            f"was read; pass {what}"
        )
    return data


def read_text(path: str | Path, option: str, *, limit: int = DEFAULT_LIMIT, what: str) -> str:
    """`read_bytes`, decoded as UTF-8 text without NUL bytes (else BadInput naming `option`)."""
    data = read_bytes(path, option, limit=limit, what=what)
    return decode_text(data, f"{option}: {path}", what=what)


def decode_text(data: bytes, where: str, *, what: str) -> str:
    if b"\x00" in data:
        raise BadInput(f"{where} is a binary file (it holds NUL bytes); pass {what}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise BadInput(
            f"{where} is not UTF-8 text (invalid byte 0x{data[exc.start]:02x} on line {line}); "
            f"pass {what}"
        ) from None
    return text.removeprefix("\ufeff")


# --------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------
# One token at a time: a string (escapes included), or one structural character.
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}:,]', re.DOTALL)


def _json_shape(text: str, where: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH and duplicate keys, before the real parser runs
    (whose recursion would end in RecursionError, and which keeps the last duplicate)."""
    stack: list[dict[str, int] | None] = []  # per open container: keys seen (objects) or None
    expect_key = False
    pending: tuple[str, int] | None = None  # a string token that may be a key
    line = 1
    last = 0
    for match in _JSON_TOKEN.finditer(text):
        start = match.start()
        line += text.count("\n", last, start)
        last = start
        token = match.group()
        if token in "[{":
            if len(stack) >= MAX_DEPTH:
                raise BadInput(
                    f"{where}: nested deeper than {MAX_DEPTH} levels (line {line}); "
                    "a real file is a few levels deep"
                )
            stack.append({} if token == "{" else None)
            expect_key = token == "{"
        elif token in "]}":
            if stack:
                stack.pop()
            expect_key = False
        elif token == ",":
            expect_key = bool(stack) and stack[-1] is not None
        elif token == ":":
            keys = stack[-1] if stack else None
            if pending is not None and keys is not None:
                key, key_line = pending
                if key in keys:
                    raise BadInput(
                        f"{where}: duplicate key {key!r} on lines {keys[key]} and {key_line}; "
                        "keep one of them"
                    )
                keys[key] = key_line
            expect_key = False
        elif expect_key:
            try:
                pending = (str(json.loads(token)), line)
            except ValueError:
                pending = None  # the real parser reports it
            continue
        pending = None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def load_json(text: str, where: str) -> Any:
    """Parse JSON text from `where` ("--outputs: out.json"); BadInput on anything hostile."""
    _json_shape(text, where)
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise BadInput(
            f"{where}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise BadInput(f"{where}: not valid JSON ({exc})") from None


def read_json(path: str | Path, option: str, *, limit: int = DEFAULT_LIMIT, what: str) -> Any:
    return load_json(read_text(path, option, limit=limit, what=what), f"{option}: {path}")


# --------------------------------------------------------------------------------------------
# YAML
# --------------------------------------------------------------------------------------------
def _yaml_loader() -> type:
    import yaml

    class Loader(yaml.SafeLoader):
        """SafeLoader that refuses duplicate keys (PyYAML keeps the last one silently)."""

        where = ""

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            if isinstance(node, yaml.MappingNode):
                seen: dict[Any, int] = {}
                for key_node, _ in node.value:
                    if (
                        not isinstance(key_node, yaml.ScalarNode)
                        or key_node.tag == "tag:yaml.org,2002:merge"
                    ):
                        continue
                    key = self.construct_object(key_node, deep=True)
                    line = key_node.start_mark.line + 1
                    try:
                        first = seen.get(key)
                    except TypeError:
                        continue
                    if first is not None:
                        raise BadInput(
                            f"{self.where}: duplicate key {key!r} on lines {first} and {line}; "
                            "keep one of them (the Pulumi CLI refuses it too)"
                        )
                    seen[key] = line
            return super().construct_mapping(node, deep=deep)

    return Loader


def _yaml_events_shape(text: str, where: str) -> None:
    """Depth of nesting, from the parser's events (the composer that builds nodes recurses)."""
    import yaml

    depth = 0
    loader = yaml.SafeLoader(text)
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    line = event.start_mark.line + 1
                    raise BadInput(
                        f"{where}: nested deeper than {MAX_DEPTH} levels (line {line}); "
                        "a real file is a few levels deep"
                    )
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    finally:
        loader.dispose()


def _expanded_size(node: Any, memo: dict[int, int]) -> int:
    """Nodes the document has once every alias is expanded (memoized: linear in real nodes)."""
    import yaml

    known = memo.get(id(node))
    if known is not None:
        return known
    memo[id(node)] = 1  # a recursive alias counts once; the constructor copes with cycles
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(child, memo) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    memo[id(node)] = min(size, MAX_NODES + 1)
    return memo[id(node)]


def load_yaml(text: str, where: str) -> Any:
    """Parse YAML text from `where` ("--config: Pulumi.x.yaml") with the safe loader; BadInput
    on a syntax error, deep nesting, an alias bomb or a duplicate key."""
    import yaml

    try:
        _yaml_events_shape(text, where)
        loader_class = _yaml_loader()
        loader = loader_class(text)
        loader.where = where
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            if _expanded_size(node, {}) > MAX_NODES:
                raise BadInput(
                    f"{where}: its aliases expand to more than {MAX_NODES:,} values "
                    "(an alias bomb?); write the values out instead of aliasing them"
                )
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise BadInput(f"{where}: not valid YAML{at} ({problem}); fix the syntax") from None
    except RecursionError:
        raise BadInput(
            f"{where}: nested too deeply to read; a real file is a few levels deep"
        ) from None


def read_yaml(path: str | Path, option: str, *, limit: int = DEFAULT_LIMIT, what: str) -> Any:
    return load_yaml(read_text(path, option, limit=limit, what=what), f"{option}: {path}")
