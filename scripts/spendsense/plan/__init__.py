"""`spendsense plan`: the offline preview (docs/design.md#contract-plan).

- `analyzer`: start the policy pack the way the Pulumi engine does and talk to its Analyzer
  gRPC interface;
- `preview`: run the program under the mock runtime, judge it, and build the report;
- `recorder`: run the program under Pulumi's mock runtime and record what the engine sees
  (also the program's tests' harness);
- `render`: the report as text, JSON or a pull-request comment.
"""
