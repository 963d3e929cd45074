"""Firestore export/import and document counts: one seam, two implementations.

`ExportImport` (`export_import`) is what backup, restore and drill need: export a database to
a `gs://` folder, and import a `gs://` export folder into a database, following the work
until it ends.

- `managed.ManagedExportImport` (production): the Firestore Admin REST API,
  `POST /v1/projects/{p}/databases/{db}:exportDocuments` (`outputUriPrefix`, and
  `snapshotTime` for an export of the database as it was at an earlier time) and
  `:importDocuments` (`inputUriPrefix`). Both answer a long-running operation, followed with
  `GET /v1/{operation name}` until `done`: then it has a `response` (success) or an `error`
  (`code` 1 is CANCELLED: a cancelled export may leave partial data in its folder). A request
  that starts an operation and gets no answer or a server error (HTTP 5xx but 501) raises
  `errors.RequestUnanswered`: the operation may exist anyway, so callers say "may have
  started" and never "not touched".
- `emulated.EmulatorExportImport` (selected when FIRESTORE_EMULATOR_HOST is set): the emulator
  has no Admin API (`:exportDocuments` answers 404); it has its own `:export` / `:import`
  endpoints that read and write a folder on the emulator's machine. So this implementation
  STAGES the export through a local temporary folder: an export is written there by the
  emulator and then uploaded to the `gs://` folder (the GCS emulator, through
  STORAGE_EMULATOR_HOST), the metadata file renamed `<folder>.overall_export_metadata` as a
  managed export names it; an import downloads the `gs://` folder to a temporary folder and
  has the emulator import it. The emulator must run on the same machine as the command.

`data.DataApi` counts documents per collection id with `runAggregationQuery` (a
collection-group COUNT) and lists top-level collections with `listCollectionIds`, against the
managed API or the emulator (with the emulator's `owner` token, which bypasses security
rules). `transport` sends one request with one-line errors; `backends` picks the managed
service or the emulator from the environment. The package reads the backup bucket's layout
(`spendsense.ops.backups.layout`, `.gcs`) and nothing above it.
"""
