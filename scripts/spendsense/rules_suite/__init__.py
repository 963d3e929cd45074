"""The Firestore access model as executable cases, run against the Firestore emulator.

One definition serves both `spendsense rules test [--rules FILE]` and the pytest suite in
tests/rules (which parametrizes over `cases.CASES`). Each case is named after the rule it
defends, makes one request the way a client SDK makes it (REST, unsigned Firebase ID token
carrying the claims under test), and expects `allow` (a 2xx answer) or `deny` (HTTP 403 from
the rules). Any other answer (404, 400, 409) fails the case: a missing document is not proof
that the rules denied access.

Data is seeded with the rules bypassed (the emulator's `owner` token). Every case that
deletes, or writes something another case reads, works on a document created for it alone
(`Context.fresh`, `Context.fresh_recommendation`), so no case depends on the order of the
others, even against rules that wrongly allow writes (the open rules in tests/rules).

- `model`: the access model's statements, the users and their data, what a case is and what
  its request gets (`Context`);
- `user_cases`, `recommendation_cases`, `cases`: the cases, grouped by collection, and
  `CASES`, all of them in one list;
- `runner`: seeding a project, running cases and judging their answers (`Outcome`).
"""
