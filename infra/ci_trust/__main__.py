"""Entry point the Pulumi CLI runs for the CI trust project (see program.py)."""

from infra.ci_trust.program import main

main()
