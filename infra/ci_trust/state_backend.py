"""The Pulumi state backend: the S3 bucket that holds every stack's state, and the KMS key
that encrypts the bucket and the stacks' secrets (`--secrets-provider awskms://...`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.ci_trust.settings import TrustSettings


def _json(value: Any) -> pulumi.Output[str]:
    """A JSON document built from Outputs (never an Output inside an f-string)."""
    return pulumi.Output.from_input(value).apply(lambda v: json.dumps(v, sort_keys=True))


class StateBackend(pulumi.ComponentResource):
    """The S3 bucket that holds every stack's state, and the KMS key of the stacks' secrets.

    Versioned (every checkpoint Pulumi overwrites stays recoverable for
    `noncurrentVersionDays`), encrypted with its own KMS key, private (public access block,
    bucket-owner-enforced objects, TLS-only policy), protected from `pulumi destroy`.
    """

    def __init__(
        self, name: str, settings: TrustSettings, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("spendsense:ci:StateBackend", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        keep = pulumi.ResourceOptions(
            parent=self, protect=settings.state.protect, retain_on_delete=settings.state.protect
        )
        tags = settings.tags
        self.key = aws.kms.Key(
            f"{name}-key",
            description="Encrypts the Pulumi state bucket and the SpendSense stacks' secrets",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=tags,
            opts=keep,
        )
        self.alias = aws.kms.Alias(
            f"{name}-key-alias",
            name="alias/spendsense-pulumi",
            target_key_id=self.key.key_id,
            opts=child,
        )
        self.bucket = aws.s3.Bucket(
            f"{name}-bucket", bucket=settings.state.bucket_name, tags=tags, opts=keep
        )
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=self.bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=self.bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": self.key.arn,
                    },
                    "bucket_key_enabled": True,
                }
            ],
            opts=child,
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=self.bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=self.bucket.id,
            rules=[
                {
                    "id": "expire-old-checkpoints",
                    "status": "Enabled",
                    "filter": {},
                    "noncurrent_version_expiration": {
                        "noncurrent_days": settings.state.noncurrent_version_days
                    },
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
                }
            ],
            opts=child,
        )
        self.backend_url = pulumi.Output.concat(
            "s3://", self.bucket.bucket, "?region=", settings.aws_region
        )
        self.secrets_provider = pulumi.Output.concat(
            "awskms://", self.alias.name, "?region=", settings.aws_region
        )
        self.register_outputs({"bucket": self.bucket.bucket, "key_arn": self.key.arn})

    def policies(self, name: str, cross_account_roles: Sequence[pulumi.Output[str]]) -> None:
        """The bucket policy (TLS only; and the deploy roles of other accounts, if any), and
        for those roles a key policy that lets them use the stacks' secrets key.

        Created after the roles: S3 and KMS refuse a policy naming a role that does not exist.
        """
        child = pulumi.ResourceOptions(parent=self)
        bucket_arn = pulumi.Output.concat("arn:aws:s3:::", self.bucket.bucket)
        objects = pulumi.Output.concat(bucket_arn, "/*")
        statements: list[dict[str, Any]] = [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, objects],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ]
        if cross_account_roles:
            # Their own identity policies (aws_deploy.py) narrow this to their stack's keys.
            principal = {"AWS": list(cross_account_roles)}
            statements += [
                {
                    "Sid": "OtherAccountsDeployRolesList",
                    "Effect": "Allow",
                    "Principal": principal,
                    "Action": ["s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketVersioning"],
                    "Resource": bucket_arn,
                },
                {
                    "Sid": "OtherAccountsDeployRolesObjects",
                    "Effect": "Allow",
                    "Principal": principal,
                    "Action": [
                        "s3:GetObject",
                        "s3:GetObjectVersion",
                        "s3:PutObject",
                        "s3:DeleteObject",
                    ],
                    "Resource": objects,
                },
            ]
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=self.bucket.id,
            policy=_json({"Version": "2012-10-17", "Statement": statements}),
            opts=child,
        )
        if not cross_account_roles:
            return
        account = aws.get_caller_identity_output().account_id
        aws.kms.KeyPolicy(
            f"{name}-key-policy",
            key_id=self.key.key_id,
            policy=_json(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            # The default key policy: the account's IAM policies decide.
                            "Sid": "EnableIamPolicies",
                            "Effect": "Allow",
                            "Principal": {
                                "AWS": pulumi.Output.concat("arn:aws:iam::", account, ":root")
                            },
                            "Action": "kms:*",
                            "Resource": "*",
                        },
                        {
                            "Sid": "OtherAccountsDeployRoles",
                            "Effect": "Allow",
                            "Principal": {"AWS": list(cross_account_roles)},
                            "Action": [
                                "kms:Decrypt",
                                "kms:DescribeKey",
                                "kms:Encrypt",
                                "kms:GenerateDataKey",
                            ],
                            "Resource": "*",
                        },
                    ],
                }
            ),
            opts=child,
        )
