"""Wire the components together and export the stack outputs (docs/design.md#contract-outputs).

`main()` is what `infra/__main__.py` runs under the engine, and what `spendsense plan` and the
tests run under the mock runtime. Nothing here looks at the stack's name: every difference
between staging and production comes from the settings.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_gcp as gcp
import pulumiverse_vercel as vercel

from infra.components.alert_channels import AlertChannels, AlertChannelsArgs
from infra.components.alerts import AlertRoutes, AlertTopicArgs
from infra.components.api import ApiService, ApiServiceArgs
from infra.components.auth_failures import AuthFailures, AuthFailuresArgs
from infra.components.backups import Backups, BackupsArgs
from infra.components.common import Providers
from infra.components.firestore import Firestore, FirestoreArgs
from infra.components.firestore_quota import FirestoreQuota, FirestoreQuotaArgs
from infra.components.frontend import Frontend, FrontendArgs
from infra.components.jwt_secret import JwtSecret, JwtSecretArgs
from infra.components.monitoring import ApiMonitoring, ApiMonitoringArgs
from infra.components.registry import Registry, RegistryArgs
from infra.components.running_image import running_image
from infra.settings import Settings, load_from_pulumi


def make_providers(settings: Settings) -> Providers:
    """One provider per cloud, created once. Credentials come from the environment.

    An explicit provider does not read the stack's `aws:` keys, so `aws:profile` is passed on
    (the dynamic resources use the same one: components/dynamic_aws.py).
    """
    return Providers(
        aws=aws.Provider(
            "aws",
            region=settings.aws_region,
            profile=pulumi.Config("aws").get("profile"),
            # `spendsense:*` tags are written by the ops CLI (e.g. spendsense:previous-image on
            # the App Runner service, which `rollback api` reads): `pulumi up` leaves them alone.
            ignore_tags=aws.ProviderIgnoreTagsArgs(key_prefixes=["spendsense:"]),
        ),
        gcp=gcp.Provider("gcp", project=settings.gcp_project),
        vercel=vercel.Provider("vercel", team=settings.frontend.vercel_team_id),
    )


def build(settings: Settings) -> dict[str, pulumi.Input[object]]:
    """Create every resource; return the stack outputs."""
    providers = make_providers(settings)
    # Before any other resource: a lookup that fails stops the run with nothing changed.
    api_image = running_image(settings, providers.aws)

    # --- AWS: the API, its image registry, its secret and its monitoring -------------------
    # Every alarm and alert rule notifies its severity's topic and the all-alerts stream
    # (docs/alerting.md); the severity of each is infra/severities.py's table.
    alerts = AlertRoutes("alerts", AlertTopicArgs(settings=settings, provider=providers.aws))
    registry = Registry(
        "registry",
        RegistryArgs(settings=settings, provider=providers.aws, actions=alerts.actions),
    )
    jwt = JwtSecret(
        "jwt",
        JwtSecretArgs(settings=settings, provider=providers.aws, actions=alerts.actions),
    )
    api = ApiService(
        "api",
        ApiServiceArgs(
            settings=settings,
            provider=providers.aws,
            repository=registry.repository,
            jwt_secret_arn=jwt.secret.arn,
            jwt_first_key=jwt.first_key,
            actions=alerts.actions,
            running_image=api_image,
        ),
    )
    monitoring = ApiMonitoring(
        "monitoring",
        ApiMonitoringArgs(
            settings=settings,
            provider=providers.aws,
            service=api.service,
            actions=alerts.actions,
            severity_topic=lambda severity: alerts.topic_arns[severity],
        ),
    )
    # The filter waits for the whole ApiService: its LogRetention makes sure the group exists
    # (depending on a component waits for every resource in it).
    AuthFailures(
        "auth-failures",
        AuthFailuresArgs(
            settings=settings,
            provider=providers.aws,
            log_group_name=api.log_group_names.apply(lambda names: names[0]),
            log_group_ready=[api],
            actions=alerts.actions,
        ),
    )
    api_url = settings.frontend.api_url or pulumi.Output.concat("https://", api.service.service_url)

    outputs: dict[str, pulumi.Input[object]] = {
        "environment": settings.environment,
        "region": settings.aws_region,
        "api_url": api_url,
        "api_service_arn": api.service.arn,
        "api_service_name": api.service.service_name,
        "ecr_repository_url": registry.repository.repository_url,
        "ecr_repository_name": registry.repository.name,
        "log_group_names": api.log_group_names,
        "dashboard_name": monitoring.dashboard.dashboard_name,
        "dashboard_url": monitoring.dashboard_url,
        # The all-alerts stream: every alarm and rule notifies it (besides its severity's
        # topic), so what the CLI selects by it is every alert, as before severities.
        "alarm_topic_arn": alerts.topic_arn,
        "alert_topic_arns": {s.value: arn for s, arn in alerts.topic_arns.items()},
        "jwt_secret_arn": jwt.secret.arn,
    }

    # --- GCP and Vercel (part 2): Firestore, backups, the frontend's environment -------------
    channels = AlertChannels(
        "alert-channels",
        AlertChannelsArgs(
            settings=settings, gcp_provider=providers.gcp, aws_provider=providers.aws
        ),
    )
    firestore = Firestore(
        "firestore",
        FirestoreArgs(settings=settings, provider=providers.gcp, channels=channels.channels_for),
    )
    backups = Backups(
        "backups",
        BackupsArgs(
            settings=settings,
            provider=providers.gcp,
            database=firestore.database,
            channels=channels.channels_for,
        ),
    )
    FirestoreQuota(
        "firestore-quota",
        FirestoreQuotaArgs(
            settings=settings,
            provider=providers.gcp,
            channels=channels.channels_for,
        ),
    )
    frontend = Frontend(
        "frontend", FrontendArgs(settings=settings, provider=providers.vercel, api_url=api_url)
    )
    outputs.update(
        {
            "firestore_project": settings.gcp_project,
            "firestore_database": firestore.database.name,
            # `spendsense status` compares today's usage with these (firestore_quota.py).
            "firestore_usage_caps": settings.firestore.usage_caps(),
            "backup_bucket": backups.bucket.name,
            "backup_prefix": backups.prefix,
            "backup_schedule": backups.schedule,
            "backup_time_zone": backups.time_zone,
            # `spendsense backup verify` checks the lifecycle rule against this stack's number.
            "backup_retention_days": settings.backup.retention_days,
            # The project `spendsense drill` restores into (granted read access to the bucket).
            "backup_test_project": settings.backup.test_project,
            "backup_workflow": backups.workflow.name,
            "backup_scheduler_job": backups.job.name,
            "vercel_project_id": settings.frontend.vercel_project_id,
            "vercel_team_id": settings.frontend.vercel_team_id,
            "frontend_url": settings.frontend.url,
            "frontend_api_url_target": frontend.targets[0],
            "frontend_redeploy_note": frontend.redeploy_note,
        }
    )
    return outputs


def main() -> None:
    settings = load_from_pulumi()
    for name, value in build(settings).items():
        pulumi.export(name, value)
