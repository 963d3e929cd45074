"""The SpendSense policy pack. The Pulumi CLI runs this file (cwd policies/) and reads the port.

Importing it starts a gRPC server and blocks: tests import `spendsense_policies` instead.
"""

from pulumi_policy import EnforcementLevel, PolicyPack
from spendsense_policies import PACK_NAME, all_policies

PolicyPack(
    name=PACK_NAME,
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=all_policies(),
    description="The SpendSense runbook's limits: App Runner, ECR, CloudWatch, Secrets Manager, "
    "Cloud Storage, Firestore and Vercel.",
)
