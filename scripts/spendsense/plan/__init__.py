"""`spendsense plan`: the offline preview (docs/design.md#contract-plan).

- `analyzer`: start the policy pack the way the Pulumi engine does and talk to its Analyzer
  gRPC interface;
- `preview`: run the program under the mock runtime, judge it, and build the report;
- `recorder`: run the program under Pulumi's mock runtime and record what the engine sees
  (also the program's tests' harness);
- `render`: the report as text, JSON or a pull-request comment.

Public API for other commands and the tests (everything else here is internal):
`load_stack_config(project, stack)` reads a stack's settings as the program does, and
`record_program(project, stack, config)` runs the program on them under the mock runtime.
"""

from spendsense.plan.preview import load_stack_config, record_program

__all__ = ["load_stack_config", "record_program"]
