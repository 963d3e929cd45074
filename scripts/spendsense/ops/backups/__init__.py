"""The backup bucket's Firestore exports: find them, judge them, and read what they hold.

Layout (docs/design.md#backup-layout): each daily run goes to ``daily/YYYYMMDD_HHMMSS/`` and
manual exports go to ``manual-YYYYMMDD_HHMMSS/`` at the bucket's root. An export's time is
read from that folder name (UTC), never from object timestamps (they are upload times, and
an emulator cannot set them). An export is *complete* when its
``<folder>.overall_export_metadata`` object is present: Firestore writes it last.

- `layout`: the folder names, the `Export` record and the paths a user may pass (no I/O);
- `gcs`: listing the bucket's objects, with Cloud Storage errors as one line;
- `listing`: the exports in the bucket, one export found by its path, and its document counts;
- `verify`: the runbook's daily "Verify backups completed";
- `export_format`: the decoder of an export's files (LevelDB log records of EntityProto).

Taking a manual export drives Firestore as well, so it lives above both, in
`spendsense.ops.manual_export`; `spendsense.ops.firestore` depends on `layout` and `gcs` only.
"""
