"""SpendSense's Pulumi program: load the settings, build the stack, export the outputs."""

from infra.program import main

main()
