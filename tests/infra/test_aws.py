"""The AWS side as the engine would see it: the runbook's numbers in the recorded resources."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from spendsense.plan.recorder import Recording

from infra.components.common import bounded_name
from infra.components.jwt_secret import FUNCTION_DIR
from infra.severities import severity_of
from tests.infra.conftest import DELETE, record

Recorded = Callable[[str], Recording]
SERVICE = "aws:apprunner/service:Service"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TAGGED_AWS_TYPES_WITHOUT_TAGS = {
    # These AWS resource types take no tags at all.
    "aws:kms/alias:Alias",
    "aws:sns/topicPolicy:TopicPolicy",
    "aws:sns/topicSubscription:TopicSubscription",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy",
    "aws:cloudwatch/eventTarget:EventTarget",
    "aws:cloudwatch/dashboard:Dashboard",
    "aws:cloudwatch/logMetricFilter:LogMetricFilter",
    "aws:lambda/permission:Permission",
    "aws:secretsmanager/secretRotation:SecretRotation",
}


def routed(rec: Recording, role: str) -> list[str]:
    """What an alert of `role` must notify: its severity's topic, then the all-alerts stream."""
    return [
        rec.outputs["alert_topic_arns"][severity_of(role).value],
        rec.outputs["alarm_topic_arn"],
    ]


def targets_of(rec: Recording, rule_resource: str) -> list[str]:
    return [
        t.inputs["arn"]
        for t in rec.by_type("aws:cloudwatch/eventTarget:EventTarget")
        if t.name.startswith(f"{rule_resource}-alert")
    ]


def alarm(rec: Recording, role: str) -> dict:
    """The monitoring component's alarm of this role (exact name: roles share prefixes)."""
    (found,) = [r for r in rec.by_type(ALARM) if r.name == f"monitoring-{role}"]
    return found.inputs


# -- the API -----------------------------------------------------------------------------------
def test_production_api_runs_on_the_runbooks_instance_size(recorded: Recorded) -> None:
    """Runbook "Scale Resources": 2 vCPU / 4 GB, HTTP health check on /health."""
    service = recorded("production").one(SERVICE).inputs
    assert service["instanceConfiguration"]["cpu"] == "2 vCPU"
    assert service["instanceConfiguration"]["memory"] == "4 GB"
    health = service["healthCheckConfiguration"]
    assert (health["protocol"], health["path"]) == ("HTTP", "/health")
    assert service["serviceName"] == "spendsense-api"


def test_autoscaling_comes_from_the_settings(recorded: Recorded) -> None:
    rec = recorded("production")
    scaling = rec.one(
        "aws:apprunner/autoScalingConfigurationVersion:AutoScalingConfigurationVersion"
    )
    assert (
        scaling.inputs["minSize"],
        scaling.inputs["maxSize"],
        scaling.inputs["maxConcurrency"],
    ) == (2, 10, 100)
    service = rec.one(SERVICE)
    assert service.inputs["autoScalingConfigurationArn"].startswith("arn:aws:apprunner:")
    assert scaling.urn in service.dependencies, (
        "the service must depend on its autoscaling configuration"
    )


def test_a_new_stack_starts_from_the_initial_image(recorded: Recorded) -> None:
    """No service yet (the mock runtime's look-ups find none): the initial tag."""
    service = recorded("production").one(SERVICE)
    image = service.inputs["sourceConfiguration"]["imageRepository"]
    assert image["imageIdentifier"] == (
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/spendsense-api:bootstrap"
    )
    assert service.inputs["sourceConfiguration"]["autoDeploymentsEnabled"] is False


def test_runtime_secrets_are_secrets_manager_references(recorded: Recorded) -> None:
    rec = recorded("production")
    config = rec.one(SERVICE).inputs["sourceConfiguration"]["imageRepository"]["imageConfiguration"]
    secret = rec.one("aws:secretsmanager/secret:Secret").inputs
    assert config["runtimeEnvironmentSecrets"] == {"JWT_SECRETS": rec.outputs["jwt_secret_arn"]}
    assert secret["name"] == "spendsense-api/jwt-signing-key"
    assert "secretString" not in secret, "the value is generated inside AWS"
    for name, value in config["runtimeEnvironmentVariables"].items():
        assert "SECRET" not in name.upper() and "KEY" not in name.upper(), name
        assert not str(value).startswith("arn:aws:secretsmanager"), name


def _statements(rec: Recording, name: str) -> list[dict]:
    policy = json.loads(rec.one("aws:iam/rolePolicy:RolePolicy", name).inputs["policy"])
    return policy["Statement"]


def test_no_role_policy_grants_wildcard_actions(each_stack: Recording) -> None:
    for policy in each_stack.by_type("aws:iam/rolePolicy:RolePolicy"):
        for statement in json.loads(policy.inputs["policy"])["Statement"]:
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            assert all("*" not in action for action in actions), f"{policy.name}: {actions}"


def test_every_role_carries_the_permissions_boundary(each_stack: Recording) -> None:
    """The CI deploy role may only create roles under this boundary (docs/ci.md)."""
    roles = each_stack.by_type("aws:iam/role:Role")
    assert len(roles) == 3
    environment = each_stack.stack
    for role in roles:
        assert role.inputs["permissionsBoundary"] == (
            f"arn:aws:iam::123456789012:policy/spendsense-workload-boundary-{environment}"
        ), role.name


def test_no_boundary_when_the_setting_is_absent() -> None:
    rec = record("staging", {"spendsense:iamPermissionsBoundary": DELETE})
    assert all("permissionsBoundary" not in r.inputs for r in rec.by_type("aws:iam/role:Role"))


def test_the_instance_role_may_read_only_the_jwt_secret(recorded: Recorded) -> None:
    rec = recorded("production")
    secret_statements = [
        s
        for s in _statements(rec, "api-instance-policy")
        if any("secretsmanager" in a for a in s["Action"])
    ]
    assert secret_statements == [
        {
            "Sid": "ReadJwtSecret",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": rec.outputs["jwt_secret_arn"],
        }
    ]


def test_the_image_pull_role_reads_only_its_repository(recorded: Recorded) -> None:
    rec = recorded("production")
    repo_arn = "arn:aws:ecr:us-east-1:123456789012:repository/spendsense-api"
    pull, token = _statements(rec, "api-ecr-access-policy")
    assert pull["Resource"] == repo_arn
    assert token == {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}


def test_failed_deployments_reach_the_alert_topic(recorded: Recorded) -> None:
    rec = recorded("production")
    rule = rec.one("aws:cloudwatch/eventRule:EventRule", "api-deployment-failures")
    pattern = json.loads(rule.inputs["eventPattern"])
    assert pattern["source"] == ["aws.apprunner"]
    assert pattern["resources"] == [rec.outputs["api_service_arn"]]
    assert "DeploymentFailed" in pattern["detail"]["operationStatus"]
    assert sorted(targets_of(rec, "api-deployment-failures")) == sorted(
        routed(rec, "deployment-failures")
    )
    assert rule.inputs["tags"]["Severity"] == "P2"


def test_log_retention_is_applied_to_app_runners_own_log_groups(recorded: Recorded) -> None:
    rec = recorded("production")
    retention = rec.one("pulumi-python:dynamic:Resource", "api-log-retention")
    assert retention.inputs["retentionDays"] == 90
    assert retention.inputs["logGroupNames"] == rec.outputs["log_group_names"]
    assert rec.one(SERVICE).urn in retention.dependencies, (
        "must wait for App Runner to create the groups"
    )
    assert all(
        n.startswith("/aws/apprunner/spendsense-api/") for n in rec.outputs["log_group_names"]
    )
    assert rec.outputs["log_group_names"][0].endswith("/application")


# -- the registry ------------------------------------------------------------------------------
def test_repository_scans_on_push_with_immutable_encrypted_tags(each_stack: Recording) -> None:
    repo = each_stack.one("aws:ecr/repository:Repository").inputs
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["encryptionConfigurations"] == [{"encryptionType": "KMS"}]


def test_lifecycle_keeps_the_rollback_targets(recorded: Recorded) -> None:
    rules = json.loads(
        recorded("production").one("aws:ecr/lifecyclePolicy:LifecyclePolicy").inputs["policy"]
    )["rules"]
    untagged, tagged = rules[-2:]
    assert untagged["selection"]["tagStatus"] == "untagged"
    assert untagged["selection"]["countNumber"] == 7
    assert tagged["selection"]["tagStatus"] == "tagged"
    assert (tagged["selection"]["countType"], tagged["selection"]["countNumber"]) == (
        "imageCountMoreThan",
        20,
    )


def test_high_and_critical_scan_findings_alert(recorded: Recorded) -> None:
    rec = recorded("production")
    pattern = json.loads(
        rec.one("aws:cloudwatch/eventRule:EventRule", "scan-findings").inputs["eventPattern"]
    )
    severities = {next(iter(o["finding-severity-counts"])) for o in pattern["detail"]["$or"]}
    assert severities == {"HIGH", "CRITICAL"}
    assert pattern["detail"]["repository-name"] == ["spendsense-api"]
    assert sorted(targets_of(rec, "registry-scan-findings")) == sorted(routed(rec, "scan-findings"))


def test_the_scan_alert_is_a_json_object_with_the_counts_unquoted(recorded: Recorded) -> None:
    """The severity counts are an object: only an object template may carry one (EventBridge)."""
    targets = [
        t
        for t in recorded("production").by_type("aws:cloudwatch/eventTarget:EventTarget")
        if t.name.startswith("registry-scan-findings-alert")
    ]
    assert (
        len(targets) == 2
        and targets[0].inputs["inputTransformer"] == targets[1].inputs["inputTransformer"]
    )
    target = targets[0]
    transformer = target.inputs["inputTransformer"]
    sample = {"repo": "spendsense-api", "tag": "v1", "digest": "sha256:ab"}
    template = transformer["inputTemplate"].replace('"<counts>"', "BROKEN")
    template = template.replace("<counts>", '{"HIGH": 2, "CRITICAL": 1}')
    template = template.replace("<aws.events.rule-name>", "spendsense-api-scan-findings")
    for variable, value in sample.items():
        template = template.replace(f"<{variable}>", value)
    message = json.loads(template)
    assert message["severityCounts"] == {"HIGH": 2, "CRITICAL": 1}
    assert (message["repository"], message["tag"]) == ("spendsense-api", "v1")
    assert set(transformer["inputPaths"]) == {"repo", "tag", "digest", "counts"}


def test_every_event_rule_alerts_the_topic_and_alarms_when_delivery_fails(
    each_stack: Recording,
) -> None:
    """An event EventBridge cannot deliver is lost silently; FailedInvocations is the signal."""
    rules = each_stack.by_type("aws:cloudwatch/eventRule:EventRule")
    targets = each_stack.by_type("aws:cloudwatch/eventTarget:EventTarget")
    failures = {
        a.inputs["dimensions"]["RuleName"]: a.inputs
        for a in each_stack.by_type(ALARM)
        if a.inputs.get("metricName") == "FailedInvocations"
    }
    assert len(rules) >= 3
    for rule in rules:
        name = rule.inputs["name"]
        severity = rule.inputs["tags"]["Severity"]
        expected = [
            each_stack.outputs["alert_topic_arns"][severity],
            each_stack.outputs["alarm_topic_arn"],
        ]
        assert sorted(t.inputs["arn"] for t in targets if t.inputs["rule"] == name) == sorted(
            expected
        ), name
        alarm = failures[name]
        assert (alarm["namespace"], alarm["statistic"], alarm["threshold"]) == (
            "AWS/Events",
            "Sum",
            0,
        )
        assert alarm["comparisonOperator"] == "GreaterThanThreshold"
        assert alarm["alarmActions"] == routed(each_stack, "delivery-failures")
        assert alarm["tags"]["Severity"] == "P1"
        assert alarm["treatMissingData"] == "notBreaching"


# -- the JWT secret ----------------------------------------------------------------------------
def test_jwt_secret_rotates_monthly_through_the_repo_function(each_stack: Recording) -> None:
    rotation = each_stack.one("aws:secretsmanager/secretRotation:SecretRotation").inputs
    assert rotation["rotationRules"]["automaticallyAfterDays"] <= 30
    assert rotation["rotateImmediately"] is True, "the first key is generated inside AWS"
    function = each_stack.one("aws:lambda/function:Function").inputs
    assert function["handler"] == "handler.handler"
    assert function["code"] == {
        "archive": {"handler.py": {"asset": str(FUNCTION_DIR / "handler.py")}}
    }
    assert function["environment"]["variables"] == {
        "APP_RUNNER_SERVICE_NAME": each_stack.outputs["api_service_name"]
    }
    assert not each_stack.by_type("aws:secretsmanager/secretVersion:SecretVersion"), (
        "no plaintext in state"
    )


def test_the_api_starts_only_after_the_first_key_exists(each_stack: Recording) -> None:
    """App Runner reads the secret when an instance starts: the secret must have a value by then."""
    rotation = each_stack.one("aws:secretsmanager/secretRotation:SecretRotation")
    service = each_stack.one(SERVICE)
    # RotateSecret returns when the rotation starts; the wait for the key sits in between.
    first_key = each_stack.one("pulumi-python:dynamic:Resource", "jwt-first-key")
    assert first_key.urn in service.dependencies
    assert rotation.urn in first_key.dependencies
    assert first_key.inputs["secretArn"] == each_stack.outputs["jwt_secret_arn"]
    assert (first_key.inputs["region"], first_key.inputs["timeoutSeconds"]) == ("us-east-1", 300)
    for policy in ("api-ecr-access-policy", "api-instance-policy"):
        assert (
            each_stack.one("aws:iam/rolePolicy:RolePolicy", policy).urn in service.dependencies
        ), policy
    rotation_policy = each_stack.one("aws:iam/rolePolicy:RolePolicy", "jwt-rotation-policy").urn
    assert rotation_policy in rotation.dependencies, (
        "the first rotation needs the function's rights"
    )
    assert service.urn not in rotation.dependencies


def test_rotation_function_may_touch_only_this_secret_and_service(recorded: Recorded) -> None:
    rec = recorded("production")
    by_sid = {s["Sid"]: s for s in _statements(rec, "jwt-rotation-policy")}
    assert by_sid["RotateThisSecret"]["Resource"] == rec.outputs["jwt_secret_arn"]
    assert by_sid["RedeployTheApi"]["Resource"] == (
        "arn:aws:apprunner:us-east-1:123456789012:service/spendsense-api/*"
    )
    assert by_sid["RedeployTheApi"]["Action"] == [
        "apprunner:StartDeployment",
        "apprunner:DescribeService",
    ]
    assert by_sid["FindTheApi"] == {
        "Sid": "FindTheApi",
        "Effect": "Allow",
        "Action": "apprunner:ListServices",
        "Resource": "*",
    }


def test_a_failed_rotation_alarms(recorded: Recorded) -> None:
    rec = recorded("production")
    errors = rec.one(ALARM, "jwt-rotation-errors").inputs
    assert (errors["namespace"], errors["metricName"]) == ("AWS/Lambda", "Errors")
    assert errors["alarmActions"] == routed(rec, "jwt-rotation-errors")
    rule = json.loads(
        rec.one("aws:cloudwatch/eventRule:EventRule", "jwt-rotation-failed").inputs["eventPattern"]
    )
    assert rule["detail"]["eventName"] == ["RotationFailed", "RotationAbandoned"]
    assert rule["source"] == ["aws.secretsmanager"]
    assert rule["detail-type"] == ["AWS Service Event via CloudTrail"]
    assert rule["detail"]["additionalEventData"]["SecretId"] == [rec.outputs["jwt_secret_arn"]]
    assert (errors["statistic"], errors["threshold"], errors["comparisonOperator"]) == (
        "Sum",
        0,
        "GreaterThanThreshold",
    )
    assert errors["dimensions"] == {"FunctionName": "spendsense-api-jwt-rotation"}
    assert errors["treatMissingData"] == "notBreaching", "no rotation this month is not an error"


# -- monitoring --------------------------------------------------------------------------------
def test_p95_latency_alarm_at_500_ms(recorded: Recorded) -> None:
    latency = alarm(recorded("production"), "latency-p95")
    assert (latency["metricName"], latency["extendedStatistic"]) == ("RequestLatency", "p95")
    assert (latency["threshold"], latency["comparisonOperator"]) == (500, "GreaterThanThreshold")
    assert latency["dimensions"]["ServiceName"] == "spendsense-api"
    assert latency["treatMissingData"] == "notBreaching"


def test_error_rate_alarm_is_5xx_over_requests_at_1_percent(recorded: Recorded) -> None:
    errors = alarm(recorded("production"), "error-rate")
    queries = {q["id"]: q for q in errors["metricQueries"]}
    assert queries["errors"]["metric"]["metricName"] == "5xxStatusResponses"
    assert queries["requests"]["metric"]["metricName"] == "Requests"
    assert "100 * FILL(errors, 0) / requests" in queries["error_rate"]["expression"]
    assert queries["error_rate"]["returnData"] is True
    assert errors["threshold"] == 1


def test_availability_alarms_watch_the_api_health_endpoint_and_the_frontend(
    recorded: Recorded,
) -> None:
    rec = recorded("production")
    api_check = rec.one(
        "aws:route53/healthCheck:HealthCheck", "monitoring-availability-check"
    ).inputs
    assert api_check["fqdn"] == rec.outputs["api_url"].removeprefix("https://")
    assert (api_check["resourcePath"], api_check["type"]) == ("/health", "HTTPS_STR_MATCH")
    assert api_check["searchString"] == '"status":"healthy"'
    frontend_check = rec.one(
        "aws:route53/healthCheck:HealthCheck", "frontend-availability-check"
    ).inputs
    assert frontend_check["fqdn"] == "spendsense.vercel.app"
    for role in ("availability", "frontend-availability"):
        down = alarm(rec, role)
        # The page: Route 53's own verdict, down for two minutes running.
        assert (down["namespace"], down["metricName"], down["statistic"]) == (
            "AWS/Route53",
            "HealthCheckStatus",
            "Minimum",
        )
        assert (down["threshold"], down["comparisonOperator"]) == (1, "LessThanThreshold")
        assert down["period"] * down["evaluationPeriods"] <= 300, "down must page within minutes"
        # The runbook's 99.9 %, over a day, where one checker's blip does not spend it.
        daily = alarm(rec, f"{role}-daily")
        # Route 53's verdict (1 or 0 a minute) averaged over a day: the share of minutes up.
        assert (daily["metricName"], daily["statistic"]) == ("HealthCheckStatus", "Average")
        assert (daily["threshold"], daily["comparisonOperator"]) == (0.999, "LessThanThreshold")
        assert (daily["period"], daily["evaluationPeriods"]) == (86_400, 1)
        for a in (down, daily):
            assert a["dimensions"] == down["dimensions"]
        assert down["alarmActions"] == routed(rec, role)
        assert daily["alarmActions"] == routed(rec, f"{role}-daily")
        for a in (down, daily):
            assert a["treatMissingData"] == "breaching", (
                "no data from the checkers must not look healthy"
            )


@pytest.mark.parametrize(
    ("role", "metric", "threshold"),
    [("cpu", "CPUUtilization", 70), ("memory", "MemoryUtilization", 80)],
)
def test_utilization_alarms_match_the_scaling_rule(
    recorded: Recorded, role: str, metric: str, threshold: int
) -> None:
    a = alarm(recorded("production"), role)
    assert (a["metricName"], a["threshold"], a["comparisonOperator"]) == (
        metric,
        threshold,
        "GreaterThanThreshold",
    )


def test_saturation_alarm_fires_at_max_instances(recorded: Recorded) -> None:
    a = alarm(recorded("production"), "saturation")
    assert (a["metricName"], a["threshold"]) == ("ActiveInstances", 10)
    assert a["comparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_every_alarm_notifies_its_severitys_route_and_chooses_missing_data(
    each_stack: Recording,
) -> None:
    alarms = each_stack.by_type(ALARM)
    assert len(alarms) >= 8
    prefix = each_stack.outputs["api_service_name"] + "-"
    by_role = {a.inputs["name"].removeprefix(prefix): a for a in alarms}
    # The runbook's examples: the API down is P0, p95 over 500 ms is P2.
    assert by_role["availability"].inputs["tags"]["Severity"] == "P0"
    assert by_role["latency-p95"].inputs["tags"]["Severity"] == "P2"
    for a in alarms:
        severity = a.inputs["tags"]["Severity"]
        expected = [
            each_stack.outputs["alert_topic_arns"][severity],
            each_stack.outputs["alarm_topic_arn"],
        ]
        assert a.inputs["alarmActions"] == expected, a.name
        assert a.inputs["okActions"] == expected, a.name
        assert a.inputs["treatMissingData"] in {"notBreaching", "breaching"}, a.name
        assert a.inputs["name"].startswith(each_stack.outputs["api_service_name"] + "-"), a.name


def test_dashboard_shows_the_runbooks_metrics(recorded: Recorded) -> None:
    rec = recorded("production")
    dashboard = rec.one("aws:cloudwatch/dashboard:Dashboard").inputs
    assert dashboard["dashboardName"] == "SpendSense-API"
    body = json.loads(dashboard["dashboardBody"])
    metrics = {
        (m[1], m[-1].get("stat")) for w in body["widgets"] for m in w["properties"]["metrics"]
    }
    for expected in [
        ("Requests", "Sum"),
        ("RequestLatency", "p50"),
        ("RequestLatency", "p95"),
        ("RequestLatency", "p99"),
        ("2xxStatusResponses", "Sum"),
        ("4xxStatusResponses", "Sum"),
        ("5xxStatusResponses", "Sum"),
        ("ActiveInstances", "Maximum"),
        ("CPUUtilization", "Average"),
        ("MemoryUtilization", "Average"),
    ]:
        assert expected in metrics, expected
    assert rec.outputs["dashboard_url"].endswith("#dashboards:name=SpendSense-API")


def test_alert_topic_is_encrypted_and_reachable_by_cloudwatch_and_eventbridge(
    recorded: Recorded,
) -> None:
    rec = recorded("production")
    topics = rec.by_type("aws:sns/topic:Topic")
    # The all-alerts stream and one topic per severity, all on the alert key.
    assert sorted(t.inputs["name"] for t in topics) == [
        "spendsense-api-alerts",
        "spendsense-api-alerts-p0",
        "spendsense-api-alerts-p1",
        "spendsense-api-alerts-p2",
        "spendsense-api-alerts-p3",
    ]
    assert len({t.inputs["kmsMasterKeyId"] for t in topics}) == 1
    for topic in topics:
        assert topic.inputs["kmsMasterKeyId"].startswith("arn:aws:kms:"), topic.name
        severity = topic.inputs["tags"].get("Severity")
        if severity:
            assert topic.inputs["name"].endswith(severity.lower())
    key_policy = json.loads(rec.one("aws:kms/key:Key").inputs["policy"])
    by_service = {
        s["Principal"]["Service"]: s
        for s in key_policy["Statement"]
        if "Service" in s.get("Principal", {})
    }
    assert set(by_service) == {
        "cloudwatch.amazonaws.com",
        "events.amazonaws.com",
        "budgets.amazonaws.com",
    }
    for statement in by_service.values():
        assert statement["Effect"] == "Allow"
        assert set(statement["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    # EventBridge's KMS calls carry no aws:Source* keys: a condition on them refuses every event.
    assert "Condition" not in by_service["events.amazonaws.com"]
    topic_policy = json.loads(
        rec.one("aws:sns/topicPolicy:TopicPolicy", "alerts-topic-policy").inputs["policy"]
    )
    publish = next(s for s in topic_policy["Statement"] if s["Sid"] == "AlarmSourcesPublish")
    assert set(publish["Principal"]["Service"]) == {
        "cloudwatch.amazonaws.com",
        "events.amazonaws.com",
    }
    assert (publish["Action"], publish["Resource"]) == (
        "sns:Publish",
        rec.outputs["alarm_topic_arn"],
    )
    for severity, arn in rec.outputs["alert_topic_arns"].items():
        policy = json.loads(
            rec.one(
                "aws:sns/topicPolicy:TopicPolicy", f"alerts-{severity.lower()}-topic-policy"
            ).inputs["policy"]
        )
        assert [s["Sid"] for s in policy["Statement"]] == [
            s["Sid"] for s in topic_policy["Statement"]
        ]
        assert {s["Resource"] for s in policy["Statement"]} == {arn}


def test_monthly_budget_follows_the_settings(recorded: Recorded) -> None:
    budget = recorded("production").one("aws:budgets/budget:Budget").inputs
    assert (budget["timeUnit"], budget["limitAmount"], budget["limitUnit"]) == (
        "MONTHLY",
        "500.00",
        "USD",
    )


def test_budget_can_count_the_whole_account_with_one_account_per_environment() -> None:
    rec = record("staging", {"spendsense:monitoring.budgetScope": "account"})
    assert not rec.one("aws:budgets/budget:Budget").inputs.get("costFilters")


def test_alarm_thresholds_follow_the_settings() -> None:
    rec = record(
        "staging",
        {"spendsense:monitoring.latencyP95Ms": 300, "spendsense:monitoring.cpuPercent": 60},
    )
    assert alarm(rec, "latency-p95")["threshold"] == 300
    assert alarm(rec, "cpu")["threshold"] == 60


# -- protection and tags -----------------------------------------------------------------------
STATEFUL = [
    "aws:ecr/repository:Repository",
    "aws:secretsmanager/secret:Secret",
    "aws:kms/key:Key",
]


@pytest.mark.parametrize("type_", STATEFUL)
def test_production_protects_stateful_resources(recorded: Recorded, type_: str) -> None:
    resource = recorded("production").one(type_)
    assert resource.protect, f"{resource.name} must be protected in production"
    assert resource.retain_on_delete, f"{resource.name} must be retained on delete in production"


@pytest.mark.parametrize("type_", STATEFUL)
def test_protection_follows_the_setting_not_the_stack_name(recorded: Recorded, type_: str) -> None:
    assert not recorded("staging").one(type_).protect
    rec = record("staging", {"spendsense:protectStatefulResources": True})
    assert rec.one(type_).protect


def test_every_taggable_aws_resource_carries_the_required_tags(each_stack: Recording) -> None:
    expected = {"Project": "spendsense", "Environment": each_stack.stack, "ManagedBy": "pulumi"}
    for resource in each_stack.resources:
        if not resource.type.startswith("aws:") or resource.type in TAGGED_AWS_TYPES_WITHOUT_TAGS:
            continue
        tags = resource.inputs.get("tags") or {}
        assert expected.items() <= tags.items(), f"{resource.type} {resource.name} tags: {tags}"


# -- outputs -----------------------------------------------------------------------------------
AWS_OUTPUTS = [
    "environment",
    "region",
    "api_url",
    "api_service_arn",
    "api_service_name",
    "ecr_repository_url",
    "ecr_repository_name",
    "log_group_names",
    "dashboard_name",
    "dashboard_url",
    "alarm_topic_arn",
    "jwt_secret_arn",
]


def test_aws_outputs_of_contract_3(each_stack: Recording) -> None:
    outputs = each_stack.outputs
    missing = [name for name in AWS_OUTPUTS if name not in outputs]
    assert not missing, f"missing outputs: {missing}"
    assert outputs["environment"] == each_stack.stack
    assert outputs["api_url"].startswith("https://") and outputs["api_url"].endswith(
        ".awsapprunner.com"
    )
    assert outputs["api_service_arn"].startswith(
        "arn:aws:apprunner:us-east-1:123456789012:service/"
    )
    assert outputs["ecr_repository_url"].endswith(f"/{outputs['ecr_repository_name']}")


def test_api_url_override_is_used_when_set() -> None:
    rec = record(
        "staging", {"spendsense:frontend.apiUrl": "https://api-staging.spendsense.example.com"}
    )
    assert rec.outputs["api_url"] == "https://api-staging.spendsense.example.com"


def test_a_preview_of_a_new_stack_marks_cloud_computed_values_unknown() -> None:
    """Values only the cloud computes (the service id, its URL) are "[unknown]" in a preview, not
    guessed."""
    import json as json_module

    from pulumi.runtime import Mocks
    from spendsense.plan.recorder import run_program

    from infra.program import main
    from tests.infra.conftest import with_changes

    class NewStackMocks(Mocks):
        def new_resource(self, args):  # type: ignore[no-untyped-def]
            return None, dict(args.inputs)  # no id, no computed outputs yet

        def call(self, args):  # type: ignore[no-untyped-def]
            return {"accountId": "123456789012"}

    values = with_changes("staging", {})
    config = {k: v if isinstance(v, str) else json_module.dumps(v) for k, v in values.items()}
    rec = run_program(main, config, stack="staging", preview=True, mocks=NewStackMocks())
    assert rec.outputs["api_url"] == "[unknown]"
    assert rec.outputs["api_service_name"] == "spendsense-api-staging"
    assert alarm(rec, "cpu")["dimensions"] == "[unknown]"  # holds the service id
    assert rec.one(SERVICE).inputs["serviceName"] == "spendsense-api-staging"


# -- physical names within AWS's limits --------------------------------------------------------
def test_bounded_names_fit_and_keep_long_names_apart() -> None:
    assert bounded_name("spendsense-api", "-as", 32) == "spendsense-api-as"
    a = bounded_name("spendsense-api-staging-eu-west-blue", "-as", 32)
    b = bounded_name("spendsense-api-staging-eu-west-green", "-as", 32)
    assert len(a) <= 32 and len(b) <= 32 and a != b
    assert a.startswith("spendsense-api-stagi") and a.endswith("-as")


def test_long_names_stay_within_each_services_limit() -> None:
    long_service = "spendsense-api-staging-eu-west-1-blue"  # 37 characters, a valid name
    rec = record(
        "staging",
        {
            "spendsense:api.serviceName": long_service,
            "spendsense:registry.repositoryName": "spendsense/" + "api-images-" * 5 + "x",
        },
    )
    autoscaling = rec.one(
        "aws:apprunner/autoScalingConfigurationVersion:AutoScalingConfigurationVersion"
    )
    tracing = rec.one("aws:apprunner/observabilityConfiguration:ObservabilityConfiguration")
    assert len(autoscaling.inputs["autoScalingConfigurationName"]) <= 32
    assert len(tracing.inputs["observabilityConfigurationName"]) <= 32
    for rule in rec.by_type("aws:cloudwatch/eventRule:EventRule"):
        assert len(rule.inputs["name"]) <= 64, rule.inputs["name"]
    for alarm_ in rec.by_type(ALARM):
        assert len(alarm_.inputs["name"]) <= 255


def test_nothing_publishes_before_the_topic_policy_admits_it(each_stack: Recording) -> None:
    """Alarms and rules created before the topic policy would be refused their first alerts."""
    policies = {p.urn for p in each_stack.by_type("aws:sns/topicPolicy:TopicPolicy")}
    assert len(policies) == 5
    publishers = [
        *each_stack.by_type(ALARM),
        *each_stack.by_type("aws:cloudwatch/eventTarget:EventTarget"),
    ]
    assert len(publishers) >= 10
    for publisher in publishers:
        # Every publisher reaches the stream (its policy) and its severity's topic (another).
        assert len(policies & set(publisher.dependencies)) >= 1, publisher.name


def test_traffic_alarms_give_no_verdict_on_a_handful_of_requests(recorded: Recorded) -> None:
    """One 5xx among 20 requests is 5 %; a p95 of 3 requests is one slow request."""
    rec = recorded("production")
    latency = alarm(rec, "latency-p95")
    assert latency["evaluateLowSampleCountPercentiles"] == "ignore"
    errors = alarm(rec, "error-rate")
    (expression,) = [q["expression"] for q in errors["metricQueries"] if "expression" in q]
    assert expression == "IF(requests >= 50, 100 * FILL(errors, 0) / requests, 0)"


def test_utilization_and_saturation_alarms_are_sustained_not_single_spikes(
    recorded: Recorded,
) -> None:
    rec = recorded("production")
    for role in ("cpu", "memory"):
        a = alarm(rec, role)
        assert (a["statistic"], a["period"]) == ("Average", 60), role
        assert (a["evaluationPeriods"], a["datapointsToAlarm"]) == (5, 3), role
        assert a["treatMissingData"] == "notBreaching", role
    saturation = alarm(rec, "saturation")
    assert (saturation["metricName"], saturation["statistic"]) == ("ActiveInstances", "Maximum")
    assert saturation["threshold"] == 10
    assert saturation["period"] * saturation["evaluationPeriods"] == 900


def test_a_fixed_size_fleet_has_no_saturation_alarm() -> None:
    """With minInstances == maxInstances the fleet always runs at max: the alarm would
    never clear."""
    rec = record("staging", {"spendsense:api.minInstances": 2, "spendsense:api.maxInstances": 2})
    roles = {r.name.removeprefix("monitoring-") for r in rec.by_type(ALARM)}
    assert "saturation" not in roles
    assert {"cpu", "memory", "latency-p95", "error-rate"} <= roles


def test_the_aws_provider_keeps_the_ops_cli_tags_and_the_stack_profile() -> None:
    """`spendsense:*` tags (rollback's previous image) survive `pulumi up`; aws:profile is used."""
    rec = record("staging", {"aws:profile": "spendsense-staging"})
    provider = rec.one("pulumi:providers:aws").inputs
    # Providers get nested config as JSON, with the provider schema's (camelCase) names.
    assert json.loads(provider["ignoreTags"]) == {"keyPrefixes": ["spendsense:"]}
    assert (provider["region"], provider["profile"]) == ("us-east-1", "spendsense-staging")
    first_key = rec.one("pulumi-python:dynamic:Resource", "jwt-first-key").inputs
    assert first_key["profile"] == "spendsense-staging"
