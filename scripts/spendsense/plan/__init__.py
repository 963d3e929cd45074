"""`spendsense plan`: the offline preview (docs/design.md#contract-plan).

- `analyzer`: start the policy pack the way the Pulumi engine does and talk to its Analyzer
  gRPC interface;
- `preview`: run the program under the mock runtime, judge it, and build the report;
- `render`: the report as text, JSON or a pull-request comment.
"""
