"""The SpendSense policy pack. The Pulumi CLI runs this file (cwd policies/) and reads the port.

Importing it starts a gRPC server and blocks: tests import `spendsense_policies` instead.
"""

from pulumi_policy import EnforcementLevel, PolicyPack
from spendsense_policies import PACK_NAME, all_policies
from spendsense_policies.speed import enabled, install, relevant

try:
    fast = enabled()  # SPENDSENSE_PACK_SPEED=0: the plain SDK (make bench compares the two)
except ValueError as exc:
    raise SystemExit(str(exc)) from None
if fast:
    install()  # see speed.py: convert each request once; run only the policies for its type

PolicyPack(
    name=PACK_NAME,
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=relevant(all_policies()) if fast else all_policies(),
    description="The SpendSense runbook's limits: App Runner, ECR, CloudWatch, Secrets Manager, "
    "Cloud Storage, Firestore and Vercel.",
)
