"""The CI trust stack: GitHub OIDC trust in AWS and GCP, and the Pulumi state backend.

A second Pulumi project (its own `Pulumi.yaml` here), applied once by an administrator; the
workflows in `.github/workflows/` use what it creates. See docs/ci.md.
"""
