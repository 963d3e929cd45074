"""Compliant resources, shaped like the program's (camelCase wire names), and a compliant stack.

Each test starts from one of these and changes one field (`changed`).
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

from spendsense.plan.analyzer import PackResource

from tests.policies.conftest import resource, urn

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's mark for "known after deployment"
SECRET_SIG = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}

SERVICE = "aws:apprunner/service:Service"
AUTOSCALING = "aws:apprunner/autoScalingConfigurationVersion:AutoScalingConfigurationVersion"
REPOSITORY = "aws:ecr/repository:Repository"
LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
DYNAMIC = "pulumi-python:dynamic:Resource"
HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"
SECRET = "aws:secretsmanager/secret:Secret"
ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
BUCKET = "gcp:storage/bucket:Bucket"
BUCKET_MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember"
DATABASE = "gcp:firestore/database:Database"
RULESET = "gcp:firebaserules/ruleset:Ruleset"
JOB = "gcp:cloudscheduler/job:Job"
WORKFLOW = "gcp:workflows/workflow:Workflow"
VARIABLE = "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable"

TAGS = {"Project": "spendsense", "Environment": "production", "ManagedBy": "pulumi"}
LABELS = {"project": "spendsense", "environment": "production", "managed-by": "pulumi"}
TOPIC = "arn:aws:sns:us-east-1:123456789012:spendsense-alerts"
SNS_TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel"
ALERT_POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"


def topic_arn(severity: str) -> str:
    """The severity's topic (`<service>-alerts-p0`..): what alarms of that severity notify."""
    return f"{TOPIC}-{severity.lower()}"


def routed(severity: str) -> list[str]:
    """AlertRoutes.actions(severity): the severity's topic, then the all-alerts stream."""
    return [topic_arn(severity), TOPIC]


def severity_tags(severity: str) -> dict[str, str]:
    return {**TAGS, "Severity": severity}


def sns_topic(severity: str | None) -> dict[str, Any]:
    name = TOPIC.rsplit(":", 1)[-1] + (f"-{severity.lower()}" if severity else "")
    return {
        "name": name,
        "kmsMasterKeyId": "arn:aws:kms:us-east-1:123456789012:key/abc",
        "tags": severity_tags(severity) if severity else dict(TAGS),
    }


def subscription(severity: str, protocol: str, endpoint: str) -> dict[str, Any]:
    return {"topic": topic_arn(severity), "protocol": protocol, "endpoint": endpoint}


SERVICE_NAME = "spendsense-api"

GOOD_RULES = """rules_version = '2';
service cloud.firestore {
  match /databases/{database}/documents {
    // Operators read everything; users only their own data.
    match /users/{userId} {
      allow read, write: if request.auth != null && request.auth.uid == userId;
    }
    match /{document=**} {
      allow read, write: if false;
    }
  }
}
"""


def changed(props: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `props` with one field (dotted path; `-` deletes it) changed."""
    result = copy.deepcopy(props)
    *parents, last = path.split(".")
    target: Any = result
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target.setdefault(key, {})
    if value == "-":
        del target[int(last) if isinstance(target, list) else last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return result


def service() -> dict[str, Any]:
    return {
        "serviceName": SERVICE_NAME,
        "instanceConfiguration": {
            "cpu": "2 vCPU",
            "memory": "4 GB",
            "instanceRoleArn": "arn:aws:iam::123456789012:role/api",
        },
        "healthCheckConfiguration": {
            "protocol": "HTTP",
            "path": "/health",
            "interval": 10,
            "timeout": 5,
            "healthyThreshold": 1,
            "unhealthyThreshold": 5,
        },
        "autoScalingConfigurationArn": (
            "arn:aws:apprunner:us-east-1:123456789012:autoscalingconfiguration/spendsense-api/1/abc"
        ),
        "sourceConfiguration": {
            "autoDeploymentsEnabled": False,
            "imageRepository": {
                "imageIdentifier": (
                    "123456789012.dkr.ecr.us-east-1.amazonaws.com/spendsense-api:bootstrap"
                ),
                "imageRepositoryType": "ECR",
                "imageConfiguration": {
                    "port": "8000",
                    "runtimeEnvironmentVariables": {
                        "ENVIRONMENT": "production",
                        "LOG_LEVEL": "info",
                    },
                    "runtimeEnvironmentSecrets": {
                        "JWT_SECRET": (
                            "arn:aws:secretsmanager:us-east-1:123456789012:secret:jwt-AbCdEf"
                        )
                    },
                },
            },
        },
        "tags": dict(TAGS),
    }


def autoscaling() -> dict[str, Any]:
    return {
        "autoScalingConfigurationName": "spendsense-api",
        "minSize": 2,
        "maxSize": 10,
        "maxConcurrency": 100,
        "tags": dict(TAGS),
    }


def repository() -> dict[str, Any]:
    return {
        "name": SERVICE_NAME,
        "imageTagMutability": "IMMUTABLE",
        "imageScanningConfiguration": {"scanOnPush": True},
        "tags": dict(TAGS),
    }


def lifecycle_policy(keep: int = 20) -> dict[str, Any]:
    rules = [
        {
            "rulePriority": 1,
            "description": "untagged",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 7,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 2,
            "description": "keep",
            "selection": {
                "tagStatus": "any",
                "countType": "imageCountMoreThan",
                "countNumber": keep,
            },
            "action": {"type": "expire"},
        },
    ]
    return {"repository": SERVICE_NAME, "policy": json.dumps({"rules": rules})}


def _alarm(
    name: str, metric: str, threshold: float, severity: str = "P2", **extra: Any
) -> dict[str, Any]:
    props = {
        "name": name,
        "namespace": "AWS/AppRunner",
        "metricName": metric,
        "dimensions": {"ServiceName": SERVICE_NAME, "ServiceID": "abc123"},
        "statistic": "Average",
        "period": 300,
        "evaluationPeriods": 2,
        "threshold": threshold,
        "comparisonOperator": "GreaterThanThreshold",
        "alarmActions": routed(severity),
        "okActions": routed(severity),
        "tags": severity_tags(severity),
    }
    props.update(extra)
    return props


def latency_alarm() -> dict[str, Any]:
    alarm = _alarm("spendsense-api-latency-p95", "RequestLatency", 500)
    del alarm["statistic"]
    alarm["extendedStatistic"] = "p95"
    return alarm


def error_rate_alarm() -> dict[str, Any]:
    def metric(id_: str, name: str) -> dict[str, Any]:
        return {
            "id": id_,
            "returnData": False,
            "metric": {
                "namespace": "AWS/AppRunner",
                "metricName": name,
                "dimensions": {"ServiceName": SERVICE_NAME, "ServiceID": "abc123"},
                "stat": "Sum",
                "period": 300,
            },
        }

    return {
        "name": "spendsense-api-error-rate",
        "comparisonOperator": "GreaterThanThreshold",
        "evaluationPeriods": 2,
        "threshold": 1,
        "metricQueries": [
            metric("errors", "5xxStatusResponses"),
            metric("requests", "Requests"),
            {
                "id": "rate",
                "expression": "100 * errors / MAX([requests, 1])",
                "label": "5xx %",
                "returnData": True,
            },
        ],
        "alarmActions": routed("P2"),
        "tags": severity_tags("P2"),
    }


def cpu_alarm() -> dict[str, Any]:
    return _alarm("spendsense-api-cpu", "CPUUtilization", 70, "P3")


def memory_alarm() -> dict[str, Any]:
    return _alarm("spendsense-api-memory", "MemoryUtilization", 80, "P3")


def health_check() -> dict[str, Any]:
    return {
        "type": "HTTPS",
        "fqdn": "abc.us-east-1.awsapprunner.com",
        "port": 443,
        "resourcePath": "/health",
        "failureThreshold": 3,
        "requestInterval": 30,
        "tags": dict(TAGS),
    }


def availability_alarm() -> dict[str, Any]:
    return {
        "name": "spendsense-api-availability",
        "namespace": "AWS/Route53",
        "metricName": "HealthCheckStatus",
        "dimensions": {"HealthCheckId": "hc-123"},
        "statistic": "Minimum",
        "period": 60,
        "evaluationPeriods": 2,
        "threshold": 1,
        "comparisonOperator": "LessThanThreshold",
        "alarmActions": routed("P0"),
        "tags": severity_tags("P0"),
    }


def dashboard() -> dict[str, Any]:
    body = {
        "widgets": [
            {
                "type": "metric",
                "properties": {
                    "metrics": [["AWS/AppRunner", "RequestLatency", "ServiceName", SERVICE_NAME]]
                },
            }
        ]
    }
    return {"dashboardName": "SpendSense-API", "dashboardBody": json.dumps(body)}


def log_group() -> dict[str, Any]:
    return {
        "name": f"/aws/apprunner/{SERVICE_NAME}/abc123/application",
        "retentionInDays": 90,
        "tags": dict(TAGS),
    }


def secret() -> dict[str, Any]:
    return {
        "name": "spendsense/production/jwt-signing-key",
        "description": "JWT signing key",
        "tags": dict(TAGS),
    }


def rotation() -> dict[str, Any]:
    return {
        "secretId": (
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:spendsense/production/"
            "jwt-signing-key-AbCdEf"
        ),
        "rotationLambdaArn": "arn:aws:lambda:us-east-1:123456789012:function:jwt-rotation",
        "rotationRules": {"automaticallyAfterDays": 30},
    }


def bucket() -> dict[str, Any]:
    return {
        "name": "spendsense-backups",
        "location": "US",
        "uniformBucketLevelAccess": True,
        "publicAccessPrevention": "enforced",
        "lifecycleRules": [
            {"action": {"type": "Delete"}, "condition": {"age": 30, "matchesPrefixes": ["daily/"]}},
            {
                "action": {"type": "Delete"},
                "condition": {"age": 365, "matchesPrefixes": ["manual-"]},
            },
        ],
        "labels": dict(LABELS),
    }


def database() -> dict[str, Any]:
    return {
        "name": "(default)",
        "locationId": "nam5",
        "type": "FIRESTORE_NATIVE",
        "deleteProtectionState": "DELETE_PROTECTION_ENABLED",
        "pointInTimeRecoveryEnablement": "POINT_IN_TIME_RECOVERY_ENABLED",
    }


def ruleset(content: str = GOOD_RULES) -> dict[str, Any]:
    return {
        "project": "spendsense-production",
        "source": {"files": [{"name": "firestore.rules", "content": content}]},
    }


def workflow() -> dict[str, Any]:
    source = (
        "main:\n  steps:\n    - export:\n        call: http.post\n        args:\n"
        "          url: https://firestore.googleapis.com/v1/projects/spendsense-production/databases/(default):exportDocuments\n"
        '          body:\n            outputUriPrefix: ${"gs://spendsense-backups/daily/" + '
        'text.replace_all(time.format(sys.now()), ":", "")}\n'
    )
    return {
        "name": "spendsense-firestore-export",
        "region": "us-east1",
        "sourceContents": source,
        "labels": dict(LABELS),
    }


def job() -> dict[str, Any]:
    return {
        "name": "spendsense-firestore-daily-export",
        "region": "us-east1",
        "schedule": "0 2 * * *",
        "timeZone": "UTC",
        "httpTarget": {
            "httpMethod": "POST",
            "uri": "https://workflowexecutions.googleapis.com/v1/projects/spendsense-production/locations/us-east1/workflows/spendsense-firestore-export/executions",
            "body": base64.b64encode(b"{}").decode(),
        },
    }


def variable(
    key: str = "NEXT_PUBLIC_API_URL",
    value: str = "https://abc.us-east-1.awsapprunner.com",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "projectId": "prj_spendsense_dashboard",
        "teamId": "team_spendsense",
        "key": key,
        "value": value,
        "targets": ["production"],
        **extra,
    }


def stack(**replace: dict[str, Any] | None) -> list[PackResource]:
    """A compliant production stack; `replace={"latency": {...}}` swaps one resource's props,
    `None` removes it."""
    parts: dict[str, tuple[str, dict[str, Any], bool, list[str]]] = {
        "service": (SERVICE, service(), False, ["autoscaling"]),
        "autoscaling": (AUTOSCALING, autoscaling(), False, []),
        "repository": (REPOSITORY, repository(), True, []),
        "lifecycle": (LIFECYCLE, lifecycle_policy(), False, ["repository"]),
        "latency": (ALARM, latency_alarm(), False, ["service"]),
        "errors": (ALARM, error_rate_alarm(), False, ["service"]),
        "cpu": (ALARM, cpu_alarm(), False, ["service"]),
        "memory": (ALARM, memory_alarm(), False, ["service"]),
        "health-check": (HEALTH_CHECK, health_check(), False, ["service"]),
        "availability": (ALARM, availability_alarm(), False, ["health-check"]),
        "dashboard": (DASHBOARD, dashboard(), False, ["service"]),
        "logs": (LOG_GROUP, log_group(), False, []),
        "service-logs": (
            LOG_GROUP,
            {**log_group(), "name": f"/aws/apprunner/{SERVICE_NAME}/abc123/service"},
            False,
            [],
        ),
        "secret": (SECRET, secret(), True, []),
        "rotation": (ROTATION, rotation(), False, ["secret"]),
        "bucket": (BUCKET, bucket(), True, []),
        "database": (DATABASE, database(), True, []),
        "ruleset": (RULESET, ruleset(), False, []),
        "workflow": (WORKFLOW, workflow(), False, ["bucket", "database"]),
        "job": (JOB, job(), False, ["workflow"]),
        "api-url": (VARIABLE, variable(), False, ["service"]),
        # The alert routes: the stream, a topic per severity, a pager on P0.
        "alerts-topic": (SNS_TOPIC, sns_topic(None), False, []),
        **{
            f"alerts-{s.lower()}-topic": (SNS_TOPIC, sns_topic(s), False, [])
            for s in ("P0", "P1", "P2", "P3")
        },
        "alerts-p0-https": (
            SUBSCRIPTION,
            subscription("P0", "https", "https://pager.example.com/x"),
            False,
            ["alerts-p0-topic"],
        ),
    }
    urns = {name: urn(type_, name) for name, (type_, *_rest) in parts.items()}
    built = []
    for name, (type_, props, protect, deps) in parts.items():
        if name in replace:
            if replace[name] is None:
                continue
            props = replace[name]  # type: ignore[assignment]
        built.append(
            resource(type_, name, props, protect=protect, dependencies=[urns[d] for d in deps])
        )
    return built
