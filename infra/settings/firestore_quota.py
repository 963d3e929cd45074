"""The team's own Firestore daily caps: fields of `spendsense:firestore` (the runbook's
"Quota exceeded").

The project is on the Blaze plan (exports need billing), so Firestore has no daily quota that
stops the app; these caps are the team's budget for a day's document reads, writes and deletes
and for stored data. infra/components/firestore_quota.py alerts when usage nears them, and
`spendsense status` shows today's usage against them (the `firestore_usage_caps` output).
`FirestoreSettings` (infra/settings/gcp_vercel.py) inherits these fields, so they are keys of
`spendsense:firestore` and rows of its table in docs/configuration.md.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field

from infra.settings.rules import Model, between, iana_time_zone

_MAX_OPS = 10**12


class FirestoreQuotaFields(Model):
    daily_read_cap: Annotated[
        int,
        AfterValidator(between(1, _MAX_OPS)),
        Field(
            description=(
                "The team's cap on document reads a day (the project is on Blaze: no quota stops "
                "the app): 1-10^12. Alerts at `quotaWarningFraction` of it."
            )
        ),
    ] = 1_000_000
    daily_write_cap: Annotated[
        int,
        AfterValidator(between(1, _MAX_OPS)),
        Field(description="The team's cap on document writes a day: 1-10^12."),
    ] = 200_000
    daily_delete_cap: Annotated[
        int,
        AfterValidator(between(1, _MAX_OPS)),
        Field(description="The team's cap on document deletes a day: 1-10^12."),
    ] = 200_000
    storage_cap_gib: Annotated[
        float,
        AfterValidator(between(0.001, 1_000_000)),
        Field(
            description=(
                "The team's cap on stored data and indexes, in GiB: 0.001-1000000. Alerts at "
                "`quotaWarningFraction` of it."
            )
        ),
    ] = 10.0
    quota_warning_fraction: Annotated[
        float,
        AfterValidator(between(0.1, 1)),
        Field(
            description=(
                "The share of a cap at which its alert fires: 0.1-1 (`0.8`: at 80%). Reads, "
                "writes and deletes are summed over a rolling 24 hours (docs/operations-data.md)."
            )
        ),
    ] = 0.8
    usage_time_zone: Annotated[
        str,
        AfterValidator(iana_time_zone),
        Field(
            description=(
                "The IANA time zone whose midnight starts the day `spendsense status` counts "
                "usage from (Firestore's free quota resets at midnight Pacific time)."
            )
        ),
    ] = "America/Los_Angeles"

    def usage_caps(self) -> dict[str, Any]:
        """The `firestore_usage_caps` output: what `spendsense status` compares usage with."""
        return {
            "reads": self.daily_read_cap,
            "writes": self.daily_write_cap,
            "deletes": self.daily_delete_cap,
            "storage_bytes": int(self.storage_cap_gib * 2**30),
            "warning_fraction": self.quota_warning_fraction,
            "time_zone": self.usage_time_zone,
        }
