"""The Cloud Monitoring notification channels of the alert routes, and `channels_for(severity)`.

Owns one notification channel per distinct endpoint of `monitoring.alertRoutes` (an address
several severities route to is one channel): `email` (label `email_address`), `sms` (label
`number`) and, for `https` and `httpsUrlParameter`, `webhook_tokenauth` (label `url`). Each
channel carries a user label `severity-<p0..p3>: routed` per severity that routes to it, which
is how the policy pack tells a severity's channels apart (policies/spendsense_policies/
severity_routing.py). Does not own the alert policies (firestore.py, backup_alerts.py).

Provider facts (terraform-provider-google, google_monitoring_notification_channel,
https://github.com/hashicorp/terraform-provider-google/blob/main/website/docs/r/monitoring_notification_channel.html.markdown):
the channel's `labels` are per type (email: `email_address`; sms: `number`; webhook_tokenauth:
`url`); `sensitive_labels` takes only `auth_token`, `password` and `service_key`, so a webhook
URL that embeds a key goes in `labels.url`: it is read from the SSM SecureString at deploy time
and kept a Pulumi secret (encrypted in the state), never written in the stack file.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_gcp as gcp

from infra.components.common import child, gcp_labels
from infra.settings import Settings
from infra.settings.alerting import AlertRoute
from infra.severities import Severity

# The user label a channel of severity S carries: `severity-p0: routed`.
ROUTED = "routed"
_TYPES = {"email": ("email", "email_address"), "sms": ("sms", "number")}


def severity_label(severity: Severity) -> str:
    return f"severity-{severity.label}"


@dataclass
class AlertChannelsArgs:
    settings: Settings
    gcp_provider: pulumi.ProviderResource
    # Reads an httpsUrlParameter (the SSM SecureString) for a webhook channel's URL.
    aws_provider: pulumi.ProviderResource


class AlertChannels(pulumi.ComponentResource):
    """Type `spendsense:gcp:AlertChannels`."""

    channels: list[tuple[gcp.monitoring.NotificationChannel, list[Severity]]]

    def __init__(
        self, name: str, args: AlertChannelsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("spendsense:gcp:AlertChannels", name, None, opts)
        settings = args.settings
        self.channels = []
        endpoints = settings.monitoring.alert_routes.endpoints("gcp")
        # The old channel names (firestore.py's) folded an address to kebab case, so two
        # addresses that fold alike (a.b@, a-b@) had one name: no alias for either, since
        # two resources may not claim one alias.
        folded = Counter(_old_name(r) for r, _ in endpoints if r.kind == "email")
        for route, severities in endpoints:
            channel_type, labels = self._labels(route, args.aws_provider)
            routed = {severity_label(s): ROUTED for s in severities}
            shown = route.endpoint if route.kind != "https" else _host(route.endpoint)
            self.channels.append(
                (
                    gcp.monitoring.NotificationChannel(
                        # Readable, and unique even where two endpoints read alike
                        # (a.b@x.co, a-b@x.co): the endpoint's hash (AlertRoute.key).
                        f"{name}-{_kebab(route.endpoint)[:40]}-{route.key}",
                        project=settings.gcp_project,
                        type=channel_type,
                        display_name=(
                            f"SpendSense {settings.environment} "
                            f"{'/'.join(s.value for s in severities)}: {route.kind} {shown}"
                        ),
                        labels=labels,
                        user_labels=gcp_labels(settings, **routed),
                        opts=child(
                            self,
                            args.gcp_provider,
                            aliases=_before(route) if folded[_old_name(route)] == 1 else [],
                        ),
                    ),
                    severities,
                )
            )
        self.register_outputs({"channels": [c.id for c, _ in self.channels]})

    def channels_for(self, severity: Severity) -> Sequence[pulumi.Input[str]]:
        """The ids of the channels `severity` routes to (what an alert policy notifies)."""
        return [channel.id for channel, severities in self.channels if severity in severities]

    @staticmethod
    def _labels(
        route: AlertRoute, aws_provider: pulumi.ProviderResource
    ) -> tuple[str, pulumi.Input[dict[str, str]]]:
        if route.kind in _TYPES:
            channel_type, key = _TYPES[route.kind]
            return channel_type, {key: route.endpoint}
        if route.kind == "https":
            return "webhook_tokenauth", {"url": route.endpoint}
        url = aws.ssm.get_parameter_output(
            name=route.endpoint,
            with_decryption=True,
            opts=pulumi.InvokeOutputOptions(provider=aws_provider),
        ).value
        return "webhook_tokenauth", pulumi.Output.secret(url.apply(lambda u: {"url": u}))


def _before(route: AlertRoute) -> list[pulumi.Alias]:
    """An e-mail channel's name when firestore.py owned the channels (one per alertEmails
    address): the same address keeps its channel, updated in place, not replaced."""
    if route.kind != "email":
        return []
    return [
        pulumi.Alias(
            name=_old_name(route),
            parent=pulumi.create_urn("firestore", "spendsense:gcp:Firestore"),
        )
    ]


def _old_name(route: AlertRoute) -> str:
    return f"firestore-email-{_kebab(route.endpoint)[:40] or 'x'}"


def _host(url: str) -> str:
    return url.split("/")[2] if "//" in url else url


def _kebab(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")
