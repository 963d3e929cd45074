"""Every file option, fed special files, endless input and hostile documents, through the
installed `spendsense` command (a subprocess, with a time and memory limit of its own).

Issue 14, items 6 and 7: a FIFO, /dev/zero, /dev/urandom, a directory, a binary or oversized
file given as --outputs, $SPENDSENSE_OUTPUTS, plan --config, rules test --rules or scale's
--stack-file; YAML alias bombs, 100,000-deep nesting, invalid UTF-8 and duplicate keys. Each
must be exit 2 with one `error:` line naming the option and the file, at once: never a hang,
a MemoryError or a RecursionError. The limits are docs/operations.md's ("Files the commands
read").
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

SPENDSENSE = str(Path(sys.executable).with_name("spendsense"))
MEMORY_LIMIT = 2 * 1024**3  # an alias bomb expanded in memory hits this instead of the machine
TIME_LIMIT = 30  # the fixed command answers in ~1 s; the old one hung or ran out of memory


def spendsense(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    environment = {k: v for k, v in os.environ.items() if k != "SPENDSENSE_OUTPUTS"}
    environment.update(env or {})
    try:
        # The memory limit is set by the shell, not by a preexec_fn: forking this process (which
        # has gRPC loaded by other tests) runs gRPC's fork handlers, which print to stderr.
        result = subprocess.run(
            [
                "/bin/sh",
                "-c",
                f'ulimit -v {MEMORY_LIMIT // 1024} && exec "$0" "$@"',
                SPENDSENSE,
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=TIME_LIMIT,
            env=environment,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`spendsense {' '.join(args)}` did not end within {TIME_LIMIT} s (it hangs)")
    return result.returncode, result.stdout, result.stderr


def assert_one_error_line(code: int, out: str, err: str, *named: str) -> str:
    assert "Traceback" not in err, err
    for word in ("MemoryError", "RecursionError", "unexpected"):
        assert word not in err, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for name in named:
        assert name in lines[0], f"the error does not name {name!r}: {lines[0]}"
    assert code == 2, err
    assert out == ""
    return lines[0]


# --------------------------------------------------------------------------------------------
# Special files and endless input (item 6)
# --------------------------------------------------------------------------------------------
@pytest.fixture
def special(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    def make(kind: str) -> str:
        if kind == "fifo":
            path = tmp_path / "fifo"
            os.mkfifo(path)
            return str(path)
        if kind in ("/dev/zero", "/dev/urandom"):
            return kind
        if kind == "directory":
            path = tmp_path / "folder"
            path.mkdir()
            return str(path)
        if kind == "binary":
            path = tmp_path / "binary.json"
            path.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)))
            return str(path)
        if kind == "latin-1":
            path = tmp_path / "latin1.yaml"
            path.write_bytes("config:\n  spendsense:owner: Jos\u00e9\n".encode("latin-1"))
            return str(path)
        if kind == "oversized":
            path = tmp_path / "huge.json"
            with path.open("wb") as handle:  # 2 MiB of spaces: valid JSON whitespace, then {}
                handle.write(b" " * (2 * 1024 * 1024) + b"{}")
            return str(path)
        raise AssertionError(kind)

    yield make


WHAT_IS_WRONG = {
    "fifo": "is a FIFO (named pipe), not a regular file",
    "/dev/zero": "is a character device, not a regular file",
    "/dev/urandom": "is a character device, not a regular file",
    "directory": "is a directory",
    "binary": "is a binary file",
    "latin-1": "is not UTF-8 text (invalid byte 0xe9 on line 2)",
    "oversized": "over the limit of 1 MiB",
}

# (how the file is given, the name the error must carry). {} is the file.
FILE_OPTIONS: list[tuple[list[str], dict[str, str], str]] = [
    (["outputs", "--stack", "staging", "--outputs", "{}"], {}, "--outputs"),
    (["outputs", "--stack", "staging"], {"SPENDSENSE_OUTPUTS": "{}"}, "SPENDSENSE_OUTPUTS"),
    (["plan", "--stack", "staging", "--config", "{}"], {}, "--config"),
    (["rules", "test", "--rules", "{}"], {}, "--rules"),
    (["scale", "--stack", "staging", "--min", "2", "--stack-file", "{}"], {}, "--stack-file"),
]
# A directory was already refused (by click for options declared dir_okay=False, by
# `rules test` itself for --rules), before and after.
CASES = [
    (args, env, option, kind)
    for args, env, option in FILE_OPTIONS
    for kind in WHAT_IS_WRONG
    if not (kind == "directory" and option != "SPENDSENSE_OUTPUTS")
]


@pytest.mark.parametrize(
    ("args", "env", "option", "kind"),
    CASES,
    ids=[f"{option}-{kind}" for _, _, option, kind in CASES],
)
def test_a_file_option_reads_only_a_bounded_regular_text_file(
    special: Callable[[str], str],
    args: list[str],
    env: dict[str, str],
    option: str,
    kind: str,
) -> None:
    path = special(kind)
    argv = [a.replace("{}", path) for a in args]
    environment = {k: v.replace("{}", path) for k, v in env.items()}
    line = assert_one_error_line(*spendsense(*argv, env=environment), option, path)
    assert WHAT_IS_WRONG[kind] in line, line


def test_plan_outputs_file_refuses_a_fifo_and_an_empty_path(tmp_path: Path) -> None:
    """--outputs-file '' used to plan and write nothing; a FIFO nobody reads used to hang."""
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    line = assert_one_error_line(
        *spendsense("plan", "--stack", "staging", "--outputs-file", str(fifo)), "--outputs-file"
    )
    assert "is not a regular file" in line
    for empty in ("", " "):
        line = assert_one_error_line(
            *spendsense("plan", "--stack", "staging", "--outputs-file", empty), "--outputs-file"
        )
        assert "is not a file path" in line
    line = assert_one_error_line(
        *spendsense("plan", "--stack", "staging", "--config", ""), "--config"
    )
    assert "is not a file path" in line


# --------------------------------------------------------------------------------------------
# Hostile YAML and JSON (item 7)
# --------------------------------------------------------------------------------------------
def _alias_bomb() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for index in range(1, 9):
        name, previous = chr(ord("a") + index), chr(ord("a") + index - 1)
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    return "config:\n  spendsense:bomb:\n" + "\n".join(f"    {line}" for line in lines) + "\n"


def _real_stack_file() -> str:
    return (Path(__file__).resolve().parents[2] / "Pulumi.staging.yaml").read_text()


def _duplicate_top_level_key() -> tuple[str, str]:
    text = _real_stack_file()
    block = "  spendsense:monitoring:\n    alarmEmail: oncall@example.com\n"
    return text + block, "spendsense:monitoring"


def _duplicate_nested_key() -> tuple[str, str]:
    text = _real_stack_file()
    marker = "  spendsense:api:\n"
    assert marker in text
    return text.replace(marker, marker + "    cpu: 4 vCPU\n", 1), "cpu"


YAML_CASES: dict[str, Callable[[], str]] = {
    "alias bomb": _alias_bomb,
    "100,000 nested flow lists": lambda: (
        "config:\n  spendsense:x: " + "[" * 100_000 + "]" * 100_000
    ),
    "100,000 nested flow maps": lambda: (
        "config:\n  spendsense:x: " + "{a: " * 100_000 + "}" * 100_000
    ),
    "1,000 nested block maps": lambda: (
        "config:\n" + "".join(" " * (i + 2) + f"k{i}:\n" for i in range(1000))
    ),
}


@pytest.mark.parametrize("case", list(YAML_CASES))
def test_plan_refuses_a_hostile_stack_file_naming_it(tmp_path: Path, case: str) -> None:
    path = tmp_path / "Pulumi.staging.yaml"
    path.write_text(YAML_CASES[case]())
    line = assert_one_error_line(
        *spendsense("plan", "--stack", "staging", "--config", str(path)), "--config", str(path)
    )
    assert "nested deeper than 100 levels" in line or "alias" in line, line


@pytest.mark.parametrize("make", [_duplicate_top_level_key, _duplicate_nested_key])
def test_plan_refuses_duplicate_keys_naming_the_key_and_both_lines(
    tmp_path: Path, make: Callable[[], tuple[str, str]]
) -> None:
    text, key = make()
    lines = text.splitlines()
    found = [n for n, line in enumerate(lines, 1) if line.strip().startswith(f"{key}:")]
    first, second = found[0], found[1]
    path = tmp_path / "Pulumi.staging.yaml"
    path.write_text(text)
    line = assert_one_error_line(
        *spendsense("plan", "--stack", "staging", "--config", str(path)), "--config"
    )
    assert f"duplicate key {key!r} on lines {first} and {second}" in line


def test_scale_refuses_a_duplicate_key_in_its_stack_file_naming_both_lines(tmp_path: Path) -> None:
    text, _ = _duplicate_nested_key()
    path = tmp_path / "Pulumi.staging.yaml"
    path.write_text(text)
    line = assert_one_error_line(
        *spendsense("scale", "--stack", "staging", "--min", "2", "--stack-file", str(path)),
        "--stack-file",
    )
    assert "duplicate key 'cpu' on lines" in line


JSON_CASES: dict[str, tuple[bytes, str]] = {
    "100,000 nested lists": (b"[" * 100_000 + b"]" * 100_000, "nested deeper than 100 levels"),
    "100,000 nested objects": (
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        "nested deeper than 100 levels",
    ),
    "duplicate key": (
        b'{"environment": "staging",\n "api_url": "https://a.example.com",\n'
        b' "api_url": "https://b.example.com"}',
        "duplicate key 'api_url' on lines 2 and 3",
    ),
    "NaN": (b'{"environment": "staging", "api_url": NaN}', "NaN is not a JSON value"),
    "Infinity": (b'{"environment": "staging", "backup_retention_days": Infinity}', "Infinity"),
    "invalid UTF-8": (b'{"environment": "staging",\n "api_url": "https://\xff"}', "not UTF-8"),
}


@pytest.mark.parametrize("case", list(JSON_CASES))
@pytest.mark.parametrize("how", ["--outputs", "SPENDSENSE_OUTPUTS"])
def test_outputs_refuse_a_hostile_json_file_naming_it(tmp_path: Path, case: str, how: str) -> None:
    data, what = JSON_CASES[case]
    path = tmp_path / "outputs.json"
    path.write_bytes(data)
    if how == "--outputs":
        result = spendsense("outputs", "--stack", "staging", "--outputs", str(path))
    else:
        result = spendsense("outputs", "--stack", "staging", env={how: str(path)})
    line = assert_one_error_line(*result, how, str(path))
    assert what in line, line
