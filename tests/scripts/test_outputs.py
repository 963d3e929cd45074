"""`spendsense outputs`: the stack outputs the commands work from, and where they came from."""

from __future__ import annotations

import json

import pytest
from spendsense.cli import main


def test_text_names_the_source_and_every_output(write_outputs, capsys):
    path = write_outputs()
    assert main(["outputs", "--stack", "staging", "--outputs", path]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"stack staging: outputs from {path}"
    by_name = {line.split()[0]: line.split(None, 1)[1] for line in lines[1:]}
    assert by_name["api_service_name"] == "spendsense-api-staging"
    assert by_name["log_group_names"].endswith(
        "/application, /aws/apprunner/spendsense-api-staging/0123456789abcdef/service"
    )
    assert len(by_name) == 20  # contract 3


def test_json_has_stack_source_and_outputs(write_outputs, capsys):
    path = write_outputs()
    assert main(["outputs", "--stack", "staging", "--outputs", path, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["stack"] == "staging"
    assert data["source"] == path
    assert data["outputs"]["log_group_names"][0].endswith("/application")


def test_environment_variable_is_the_source_when_no_option(write_outputs, monkeypatch, capsys):
    path = write_outputs()
    monkeypatch.setenv("SPENDSENSE_OUTPUTS", path)
    assert main(["outputs", "--stack", "staging", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["source"] == path


def test_outputs_of_another_stack_are_bad_input(write_outputs, capsys):
    path = write_outputs()
    assert main(["outputs", "--stack", "production", "--outputs", path]) == 2
    assert capsys.readouterr().err == (
        f"error: --outputs: {path} holds the outputs of stack 'staging', not 'production'; "
        "pass the file for the stack you named\n"
    )


def test_missing_file_is_bad_input(tmp_path, capsys):
    path = tmp_path / "nope.json"
    assert main(["outputs", "--stack", "staging", "--outputs", str(path)]) == 2
    assert capsys.readouterr().err == (
        f"error: --outputs: {path} does not exist; pass a JSON file of stack outputs\n"
    )


def test_no_source_at_all_is_bad_input(monkeypatch, capsys):
    monkeypatch.delenv("SPENDSENSE_OUTPUTS", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")  # no pulumi CLI
    assert main(["outputs", "--stack", "staging"]) == 2
    assert capsys.readouterr().err == (
        "error: no stack outputs: the Pulumi CLI is not installed; pass --outputs FILE or set "
        "SPENDSENSE_OUTPUTS (e.g. from `spendsense plan --outputs-file`)\n"
    )


def test_help_has_an_example(capsys):
    assert main(["outputs", "--help"]) == 0
    assert "spendsense outputs --stack production" in capsys.readouterr().out


def test_text_accessors_live_on_the_outputs_object() -> None:
    """`require_text` / `get_text` (were spendsense.output_text): a non-string, blank or
    non-printable value is one exit-2 line naming the output and the file."""
    from spendsense.errors import BadInput
    from spendsense.outputs import StackOutputs

    outputs = StackOutputs(
        "staging",
        {"a_number": 5, "blank": "  ", "name": "spendsense-api", "empty": ""},
        "outputs.json",
    )
    assert outputs.require_text("name") == "spendsense-api"
    assert outputs.get_text("empty", "fallback") == "fallback"
    assert outputs.get_text("absent") is None
    for name in ("a_number", "blank"):
        with pytest.raises(
            BadInput, match=rf"stack output '{name}' in outputs\.json: must be a non"
        ):
            outputs.require_text(name)
    with pytest.raises(BadInput, match=r"stack output 'a_number' in outputs\.json"):
        outputs.get_text("a_number")
