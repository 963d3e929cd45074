"""`spendsense rollback frontend` against a local server answering like Vercel's REST API.

Shapes from Vercel's REST API reference: `GET /v6/deployments` answers
`{"deployments": [...], "pagination": {...}}` with `uid`, `url`, `created` (ms), `state`,
`readyState`, `target`; `GET /v13/deployments/{idOrUrl}` answers one deployment with `id`;
`POST /v10/projects/{projectId}/promote/{deploymentId}` answers 201 or 202 with no body.
"""

from __future__ import annotations

import json

import pytest
from spendsense.cli import main

PROJECT = "prj_spendsense_dashboard"
TEAM = "team_spendsense"
DEPLOYMENTS_PATH = "/v6/deployments"


def deployment(uid: str, created_ms: int, state: str = "READY") -> dict:
    return {
        "uid": uid,
        "name": "spendsense-dashboard",
        "url": f"spendsense-{uid[-6:]}.vercel.app",
        "created": created_ms,
        "createdAt": created_ms,
        "source": "git",
        "state": state,
        "readyState": state,
        "readySubstate": "PROMOTED" if state == "READY" else None,
        "type": "LAMBDAS",
        "target": "production",
        "creator": {"uid": "u1", "email": "dev@spendsense.example.com", "username": "dev"},
        "meta": {"githubCommitSha": uid},
        "inspectorUrl": f"https://vercel.com/spendsense/dashboard/{uid}",
        "isRollbackCandidate": state == "READY",
    }


LIST = {
    "deployments": [
        deployment("dpl_newest0000c", 1_764_000_300_000),
        deployment("dpl_broken0000x", 1_764_000_200_000, state="ERROR"),
        deployment("dpl_previous00b", 1_764_000_100_000),
        deployment("dpl_oldest0000a", 1_764_000_000_000),
    ],
    "pagination": {"count": 4, "next": None, "prev": 1_764_000_300_000},
}


@pytest.fixture
def vercel(http_server, monkeypatch):
    monkeypatch.setenv("SPENDSENSE_VERCEL_API", http_server.url)
    monkeypatch.setenv("VERCEL_TOKEN", "test-token-123")
    http_server.on("GET", DEPLOYMENTS_PATH, (200, LIST))
    http_server.on(
        "GET",
        "/v13/deployments/spendsense.vercel.app",
        (
            200,
            {"id": "dpl_newest0000c", "url": "spendsense-0000c.vercel.app", "readyState": "READY"},
        ),
    )
    return http_server


def rollback(write_stack_outputs, *extra: str) -> int:
    outputs = write_stack_outputs("production")
    return main(["rollback", "frontend", "--stack", "production", "--outputs", outputs, *extra])


def promotes(server) -> list[str]:
    return [r.path for r in server.requests if r.method == "POST"]


def test_without_yes_it_names_the_previous_ready_deployment_and_changes_nothing(
    vercel, write_stack_outputs, capsys
):
    """Without --yes: 'Would promote' the READY deployment before the serving one; no POST."""
    code = rollback(write_stack_outputs)
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("Would promote dpl_previous00b (spendsense-ous00b.vercel.app")
    assert promotes(vercel) == []
    listing = next(r for r in vercel.requests if r.path == DEPLOYMENTS_PATH)
    assert listing.query == {
        "projectId": [PROJECT],
        "target": ["production"],
        "teamId": [TEAM],
        "limit": ["20"],
    }
    assert listing.headers["authorization"] == "Bearer test-token-123"


def test_with_yes_it_promotes_through_the_v10_endpoint_with_the_team(
    vercel, write_stack_outputs, capsys
):
    """With --yes: POST /v10/projects/{project}/promote/{deployment}?teamId=... once."""
    vercel.on("POST", f"/v10/projects/{PROJECT}/promote/dpl_previous00b", (201, None))
    code = rollback(write_stack_outputs, "--yes")
    assert code == 0, capsys.readouterr().err
    assert promotes(vercel) == [f"/v10/projects/{PROJECT}/promote/dpl_previous00b"]
    post = next(r for r in vercel.requests if r.method == "POST")
    assert post.query == {"teamId": [TEAM]}
    assert "Promoted dpl_previous00b" in capsys.readouterr().out


def test_after_an_earlier_rollback_it_goes_back_from_the_serving_deployment(
    vercel, write_stack_outputs, capsys
):
    """If the domain already serves an older deployment, 'previous' is older than that one."""
    vercel.on(
        "GET",
        "/v13/deployments/spendsense.vercel.app",
        (200, {"id": "dpl_previous00b", "url": "spendsense-ous00b.vercel.app"}),
    )
    code = rollback(write_stack_outputs, "--json")
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert data["current"]["id"] == "dpl_previous00b"
    assert data["target"]["id"] == "dpl_oldest0000a"
    assert data["promoted"] is False


def test_to_picks_a_named_deployment_by_url(vercel, write_stack_outputs, capsys):
    """--to accepts a deployment URL and promotes exactly that one."""
    vercel.on("POST", f"/v10/projects/{PROJECT}/promote/dpl_oldest0000a", (202, None))
    code = rollback(write_stack_outputs, "--to", "https://spendsense-t0000a.vercel.app", "--yes")
    out = capsys.readouterr().out
    assert code == 0
    assert promotes(vercel) == [f"/v10/projects/{PROJECT}/promote/dpl_oldest0000a"]
    assert "finishes it in the background" in out


def test_to_an_unknown_deployment_is_bad_input(vercel, write_stack_outputs, capsys):
    """--to naming no recent production deployment: exit 2, one line, nothing promoted."""
    code = rollback(write_stack_outputs, "--to", "dpl_nope")
    assert code == 2
    assert capsys.readouterr().err == (
        "error: --to: 'dpl_nope' is not one of the last 4 production deployments of project "
        "prj_spendsense_dashboard; pass a deployment id (dpl_...) or URL from `vercel ls --prod`\n"
    )
    assert promotes(vercel) == []


def test_to_a_failed_deployment_is_bad_input(vercel, write_stack_outputs, capsys):
    """--to naming an ERROR deployment: exit 2."""
    code = rollback(write_stack_outputs, "--to", "dpl_broken0000x")
    assert code == 2
    assert (
        capsys.readouterr().err == "error: --to: deployment dpl_broken0000x is ERROR, not READY\n"
    )


def test_missing_token_is_bad_input(http_server, monkeypatch, write_stack_outputs, capsys):
    """No VERCEL_TOKEN: exit 2 with how to get one, before any request."""
    monkeypatch.delenv("VERCEL_TOKEN", raising=False)
    monkeypatch.setenv("SPENDSENSE_VERCEL_API", http_server.url)
    code = rollback(write_stack_outputs)
    assert code == 2
    assert capsys.readouterr().err == (
        "error: VERCEL_TOKEN is not set; create a token at https://vercel.com/account/tokens "
        "and export VERCEL_TOKEN\n"
    )
    assert http_server.requests == []


def test_a_refused_token_is_bad_input(vercel, write_stack_outputs, capsys):
    """Vercel answering 403 to the listing: exit 2 naming the token."""
    vercel.on(
        "GET",
        DEPLOYMENTS_PATH,
        (403, {"error": {"code": "forbidden", "message": "Not authorized"}}),
    )
    code = rollback(write_stack_outputs)
    assert code == 2
    assert (
        "Vercel refused the token (HTTP 403: forbidden: Not authorized)" in capsys.readouterr().err
    )


def test_no_older_ready_deployment_fails(vercel, write_stack_outputs, capsys):
    """Nothing READY older than the serving deployment: exit 1 suggesting --to."""
    vercel.on(
        "GET",
        DEPLOYMENTS_PATH,
        (
            200,
            {
                "deployments": [deployment("dpl_only", 1_764_000_000_000)],
                "pagination": {"count": 1, "next": None, "prev": None},
            },
        ),
    )
    vercel.on("GET", "/v13/deployments/spendsense.vercel.app", (200, {"id": "dpl_only"}))
    code = rollback(write_stack_outputs)
    assert code == 1
    assert "pass --to DEPLOYMENT" in capsys.readouterr().err


def test_a_failed_promotion_is_reported(vercel, write_stack_outputs, capsys):
    """A 409 from the promote endpoint: exit 1 with Vercel's message."""
    vercel.on(
        "POST",
        f"/v10/projects/{PROJECT}/promote/dpl_previous00b",
        (409, {"error": {"code": "conflict", "message": "A promotion is already in progress"}}),
    )
    code = rollback(write_stack_outputs, "--yes")
    assert code == 1
    assert capsys.readouterr().err == (
        "error: promote Vercel deployment dpl_previous00b: HTTP 409: conflict: "
        "A promotion is already in progress -- production was not changed\n"
    )


@pytest.mark.parametrize(
    "answer",
    [(0, None), (502, {"error": {"code": "bad_gateway", "message": "upstream"}})],
    ids=["no answer", "HTTP 502"],
)
def test_a_promotion_without_a_clear_answer_says_the_outcome_is_unknown(
    vercel, write_stack_outputs, capsys, answer
):
    """The promote request gets no answer (connection dropped) or a 5xx: exit 1, and the
    message says production may or may not serve the deployment now and how to see which."""
    vercel.on("POST", f"/v10/projects/{PROJECT}/promote/dpl_previous00b", answer)
    code = rollback(write_stack_outputs, "--yes")
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: promote Vercel deployment dpl_previous00b: ")
    assert err.endswith(
        "-- whether production now serves it is unknown: see which deployment serves it with "
        "`spendsense rollback frontend` (without --yes) before trying again\n"
    )
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize("token", ["tok en", "tok\nen", "tökén"])
def test_a_token_that_cannot_be_a_header_is_bad_input(
    vercel, write_stack_outputs, capsys, monkeypatch, token
):
    """A VERCEL_TOKEN with a space, a line break or non-ASCII: exit 2 before any request."""
    monkeypatch.setenv("VERCEL_TOKEN", token)
    code = rollback(write_stack_outputs)
    assert code == 2
    assert capsys.readouterr().err.startswith("error: VERCEL_TOKEN holds characters")
    assert vercel.requests == []


@pytest.mark.parametrize("created", [None, "yesterday", 10**30, True])
def test_a_deployment_without_a_readable_time_is_not_guessed(
    vercel, write_stack_outputs, capsys, created
):
    """A listed deployment whose `created` is missing or unreadable: exit 1 naming it; the
    command never guesses an order (it could promote the wrong deployment)."""
    odd = dict(deployment("dpl_odd000000zz", 0))
    odd["created"] = odd["createdAt"] = created
    vercel.on("GET", DEPLOYMENTS_PATH, (200, {"deployments": [*LIST["deployments"], odd]}))
    code = rollback(write_stack_outputs)
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith(
        "error: Vercel listed deployment dpl_odd000000zz without a readable creation time"
    )
    assert promotes(vercel) == []


# --- the serving deployment is found out, never guessed ------------------------------------


def test_a_serving_deployment_older_than_the_listing_is_looked_up_by_id(
    vercel, write_stack_outputs, capsys
):
    """The domain serves a deployment the listing does not hold: its creation time comes from
    GET /v13/deployments/{id} and the target is the newest READY one older than it (here the
    oldest), never 'the one before the newest'."""
    serving = deployment("dpl_serving000s", 1_764_000_050_000)
    vercel.on("GET", "/v13/deployments/spendsense.vercel.app", (200, {"id": "dpl_serving000s"}))
    vercel.on("GET", "/v13/deployments/dpl_serving000s", (200, {**serving, "id": serving["uid"]}))
    assert rollback(write_stack_outputs, "--json") == 0, capsys.readouterr().err
    data = json.loads(capsys.readouterr().out)
    assert data["current"]["id"] == "dpl_serving000s"
    assert data["target"]["id"] == "dpl_oldest0000a"
    lookup = next(r for r in vercel.requests if r.path == "/v13/deployments/dpl_serving000s")
    assert lookup.query == {"teamId": [TEAM]}
    assert promotes(vercel) == []


@pytest.mark.parametrize(
    ("host_answer", "id_answer", "reason"),
    [
        (
            (404, {"error": {"code": "not_found", "message": "Deployment not found"}}),
            None,
            "Vercel does not say which deployment spendsense.vercel.app serves",
        ),
        (
            (200, {"id": "dpl_vanished00v"}),
            (404, {"error": {"code": "not_found", "message": "Deployment not found"}}),
            "spendsense.vercel.app serves dpl_vanished00v, which Vercel cannot find",
        ),
    ],
    ids=["domain lookup 404", "serving id 404"],
)
def test_an_unknown_serving_deployment_is_exit_1_unless_to_is_given(
    vercel, write_stack_outputs, capsys, host_answer, id_answer, reason
):
    """If Vercel cannot say which deployment serves production, 'the previous one' is
    unknown: exit 1 asking for --to, nothing promoted; with --to the named one is promoted."""
    vercel.on("GET", "/v13/deployments/spendsense.vercel.app", host_answer)
    if id_answer is not None:
        vercel.on("GET", "/v13/deployments/dpl_vanished00v", id_answer)
    assert rollback(write_stack_outputs, "--yes") == 1
    assert capsys.readouterr().err == (
        f"error: cannot tell which deployment serves production ({reason}), so the previous one "
        "is unknown; pass --to DEPLOYMENT (see `vercel ls --prod`)\n"
    )
    assert promotes(vercel) == []
    vercel.on("POST", f"/v10/projects/{PROJECT}/promote/dpl_previous00b", (201, None))
    assert rollback(write_stack_outputs, "--to", "dpl_previous00b", "--yes") == 0
    assert promotes(vercel) == [f"/v10/projects/{PROJECT}/promote/dpl_previous00b"]
    assert "(was unknown)" in capsys.readouterr().out
