"""Preflight on Vercel: the token sees the team and the project; `NEXT_PUBLIC_API_URL` to import.

Vercel REST API (https://vercel.com/docs/rest-api), all GETs with `teamId`:
- `/v2/teams/{teamId}`: the team `frontend.vercelTeamId`, as the token sees it;
- `/v9/projects/{idOrName}`: the project `frontend.vercelProjectId`;
- `/v10/projects/{idOrName}/env`: its variables (`envs[]` with `id`, `key`, `target`): a
  `NEXT_PUBLIC_API_URL` on this stack's target that the stack does not manage makes the
  provider's create fail; import it (terraform-provider-vercel's import id:
  `team_id/project_id/env_id`).

The token is the one `pulumi up` uses: VERCEL_API_TOKEN (the pulumiverse-vercel provider's),
else VERCEL_TOKEN (the other `spendsense` commands'). SPENDSENSE_VERCEL_API overrides the base
URL (tests).
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

import requests

from spendsense.errors import BadInput, one_line
from spendsense.ops.preflight import (
    API_URL_VARIABLE,
    DENIED,
    MISSING,
    OK,
    UNKNOWN,
    Check,
    StackState,
    blocked,
    existing_object,
)
from spendsense.ops.vercel import api_base

VARIABLE = "NEXT_PUBLIC_API_URL"
TOKEN_FIX = (
    "create a token at https://vercel.com/account/tokens with access to the team and export "
    "VERCEL_API_TOKEN (CI: the VERCEL_API_TOKEN secret)"
)


# `_get`'s status when SPENDSENSE_VERCEL_API is not a local test server (no request made).
BAD_OVERRIDE = -1


def _get(session: requests.Session, path: str, team_id: str | None) -> tuple[int, Any, str]:
    try:
        # The same guard as the other Vercel commands: an override that is not a local test
        # server is refused before the token goes anywhere.
        base = api_base()
    except BadInput as exc:
        return BAD_OVERRIDE, None, str(exc)
    try:
        response = session.get(
            f"{base}{path}", params={"teamId": team_id} if team_id else None, timeout=30
        )
    except requests.RequestException as exc:
        return 0, None, one_line(exc)
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    message = str(error.get("message", "")) if isinstance(error, dict) else response.reason
    return response.status_code, body, message


def _trouble(check_id: str, status: int, message: str, what: str) -> Check:
    if status == BAD_OVERRIDE:
        return Check(check_id, UNKNOWN, message, "unset SPENDSENSE_VERCEL_API")
    if status == 0:
        return Check(check_id, UNKNOWN, f"no answer from Vercel ({message})", "try again")
    if status in (401, 403):
        return Check(
            check_id,
            DENIED,
            f"Vercel refused the token for {what} ({status}: {message})",
            TOKEN_FIX,
        )
    if status == 404:
        return Check(check_id, MISSING, f"the token sees no {what} ({message})", TOKEN_FIX)
    return Check(
        check_id, UNKNOWN, f"Vercel answered HTTP {status} for {what}: {message}", "try again"
    )


def _targets(env: dict[str, Any]) -> set[str]:
    target = env.get("target")
    if isinstance(target, str):
        return {target}
    return {str(t) for t in target} if isinstance(target, list) else set()


def check_vercel(
    project_id: str, team_id: str | None, target: str, stack: str, state: StackState | None
) -> list[Check]:
    token = (os.environ.get("VERCEL_API_TOKEN") or os.environ.get("VERCEL_TOKEN") or "").strip()
    if not token or not (token.isascii() and token.isprintable()) or " " in token:
        problem = "is not set" if not token else "holds characters a token cannot have"
        return [
            Check("vercel.token", MISSING, f"VERCEL_API_TOKEN {problem}", TOKEN_FIX),
            blocked("vercel.team", "vercel.token"),
            blocked("vercel.project", "vercel.token"),
            blocked("vercel.api_url_variable", "vercel.token"),
        ]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    checks = [Check("vercel.token", OK, "a Vercel token is set")]
    if team_id:
        status, body, message = _get(session, f"/v2/teams/{quote(team_id, safe='')}", None)
        if status == 200:
            name = body.get("slug") or body.get("name") if isinstance(body, dict) else None
            checks.append(Check("vercel.team", OK, f"the token sees team {team_id} ({name})"))
        else:
            checks.append(_trouble("vercel.team", status, message, f"team {team_id}"))
    project_path = f"/v9/projects/{quote(project_id, safe='')}"
    status, body, message = _get(session, project_path, team_id)
    if status != 200:
        return [
            *checks,
            _trouble("vercel.project", status, message, f"project {project_id}"),
            blocked("vercel.api_url_variable", "vercel.project"),
        ]
    checks.append(Check("vercel.project", OK, f"the token sees project {project_id}"))
    status, body, message = _get(
        session, f"/v10/projects/{quote(project_id, safe='')}/env", team_id
    )
    envs = body.get("envs") if isinstance(body, dict) else body
    if status != 200 or not isinstance(envs, list):
        return [*checks, _trouble("vercel.api_url_variable", status, message, "the variables")]
    existing = [
        env
        for env in envs
        if isinstance(env, dict) and env.get("key") == VARIABLE and target in _targets(env)
    ]
    if not existing:
        detail = f"{VARIABLE} is not set on target {target}: `pulumi up` creates it"
        return [*checks, Check("vercel.api_url_variable", OK, detail)]
    env_id = str(existing[0].get("id") or "")
    import_id = f"{team_id}/{project_id}/{env_id}" if team_id else f"{project_id}/{env_id}"
    what = f"{VARIABLE} on target {target} (id {env_id})"
    check = existing_object(
        "vercel.api_url_variable", what, API_URL_VARIABLE, import_id, stack, state, env_id
    )
    return [*checks, check]
