"""The frontend's environment on Vercel: `NEXT_PUBLIC_API_URL` for this stack's deployments.

Owns one Vercel project environment variable, `NEXT_PUBLIC_API_URL`, set to
`frontend.apiUrl` or else `https://` + the App Runner service URL, on the Vercel target the
stack names (`frontend.target`: production for the production stack, preview for staging, so
pull-request previews talk to the staging API).

`NEXT_PUBLIC_` values are compiled into the frontend when Vercel builds it: changing one here
changes nothing that users see until a new deployment is built (`vercel --prod`, or a push).
`REDEPLOY_NOTE` says so in the stack outputs and in `spendsense plan`.

Deliberately not here: the Vercel project itself, its domains and its deployments (the
runbook deploys with `vercel --prod` and rolls back with `vercel promote`), and secrets: a
secret never goes into a `NEXT_PUBLIC_` variable (it would be shipped to every browser), and
any secret added later goes through `Frontend._variable(..., secret=True)`, which makes it
`sensitive` and refuses a `NEXT_PUBLIC_` name (`sensitive_flag`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumiverse_vercel as vercel

from infra.components.common import child
from infra.settings import Settings

API_URL_VARIABLE = "NEXT_PUBLIC_API_URL"
PUBLIC_PREFIX = "NEXT_PUBLIC_"
REDEPLOY_NOTE = (
    "NEXT_PUBLIC_ values are compiled into the frontend at build time: a change takes effect "
    "only with a new Vercel deployment (vercel --prod, or push a commit)."
)


def is_public(key: str) -> bool:
    """A variable that Next.js inlines into the browser bundle: never a secret."""
    return key.startswith(PUBLIC_PREFIX)


def sensitive_flag(key: str, *, secret: bool) -> bool:
    """Vercel's `sensitive` for a variable: true exactly for secrets, which are never public.

    Raises RunError for a secret named NEXT_PUBLIC_: it would ship to every browser.
    """
    if secret and is_public(key):
        raise pulumi.RunError(
            f"{key}: a secret must not start with {PUBLIC_PREFIX} (Next.js compiles those into "
            "the JavaScript every visitor downloads); drop the prefix and read it server-side"
        )
    return secret


@dataclass
class FrontendArgs:
    settings: Settings
    provider: pulumi.ProviderResource
    # `settings.frontend.apiUrl` or `https://` + the App Runner service URL (program.py).
    api_url: pulumi.Input[str]


class Frontend(pulumi.ComponentResource):
    """The Vercel project's API URL variable (type `spendsense:vercel:Frontend`)."""

    api_url_variable: vercel.ProjectEnvironmentVariable

    def __init__(
        self, name: str, args: FrontendArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("spendsense:vercel:Frontend", name, None, opts)
        settings = args.settings
        frontend = settings.frontend
        self.targets = [frontend.target]
        self.api_url = pulumi.Output.from_input(args.api_url).apply(_require_https)
        self._name, self._settings, self._provider = name, settings, args.provider
        # The API's URL is public by nature (every browser sees it), so not sensitive (a
        # sensitive variable cannot be read back with `vercel env ls`), unless the Vercel team
        # enforces sensitive variables and refuses `sensitive: false`
        # (frontend.sensitiveVariables).
        self.api_url_variable = self._variable(
            "api-url", API_URL_VARIABLE, self.api_url, sensitive=frontend.sensitive_variables
        )
        self.redeploy_note = REDEPLOY_NOTE
        self.register_outputs(
            {
                "api_url": self.api_url,
                "targets": self.targets,
                "redeploy_note": self.redeploy_note,
            }
        )

    def _variable(
        self,
        role: str,
        key: str,
        value: pulumi.Input[str],
        *,
        secret: bool = False,
        sensitive: bool = False,
    ) -> vercel.ProjectEnvironmentVariable:
        """One variable on this stack's target; secrets are sensitive and never NEXT_PUBLIC_.

        `sensitive` makes a non-secret sensitive too (a team that enforces sensitive
        variables refuses anything else on production and preview).
        """
        frontend = self._settings.frontend
        return vercel.ProjectEnvironmentVariable(
            f"{self._name}-{role}",
            project_id=frontend.vercel_project_id,
            team_id=frontend.vercel_team_id,
            key=key,
            value=value,
            targets=self.targets,
            sensitive=sensitive_flag(key, secret=secret) or sensitive,
            comment=(
                f"Managed by Pulumi (SpendSense {self._settings.environment})."
                + (f" {REDEPLOY_NOTE}" if is_public(key) else "")
            ),
            opts=child(self, self._provider),
        )


def _require_https(url: str) -> str:
    if not url.startswith("https://"):
        raise pulumi.RunError(
            f"{API_URL_VARIABLE}: must be an https:// URL (got {url!r}); "
            "set spendsense:frontend.apiUrl or check the App Runner service URL"
        )
    return url.rstrip("/")
