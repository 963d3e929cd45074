"""Google's Firestore emulator (from the Google Cloud CLI), started and driven over REST.

Used by the rules suite (`spendsense rules test`, tests/rules), and by the backup/restore
tests, which need a real Firestore to export from and import into.

- `process`: starting `gcloud emulators firestore start` on a free loopback port in its own
  process group (gcloud starts a `java` child, so the whole group is stopped), loading
  security rules through the emulator's rules endpoint, wiping, exporting and importing;
- `rest`: a small REST client that makes requests the way a client SDK does (unsigned
  Firebase ID tokens), or with the emulator's `owner` token, which bypasses the rules (for
  seeding and inspection);
- `values`: Python values to and from Firestore REST `Value`s.

Measured behaviour of the emulator (gcloud 528) this package relies on:
- `GET /` answers `Ok` once it is ready (~5 s).
- `PUT /emulator/v1/projects/{p}:securityRules` compiles the rules: 400 with
  "Error compiling rules: ..." on a syntax error, 200 with warnings as `issues` otherwise.
- `POST /emulator/v1/projects/{p}:export` with `export_directory` (an existing folder) writes
  `firestore_export_<epoch seconds>/` there and answers `{}` (it does not say the folder's name).
- `POST /emulator/v1/projects/{p}:import` takes the same body, but its `export_directory` must
  be the path of the export's `.overall_export_metadata` FILE (a folder gives "Failed to parse
  overall export metadata file"). An import merges: documents in the export overwrite those
  with the same path; other documents stay.
- `DELETE /emulator/v1/projects/{p}/databases/(default)/documents` wipes the data.
"""
