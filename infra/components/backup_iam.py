"""The export identity's two custom roles: what the daily export may do, and nothing else.

`roles/datastore.importExportAdmin` also carries `datastore.databases.import`, so the account
that runs every night could overwrite production from any bucket it can name. The export
needs only these permissions (Firestore's "Required permissions for API methods",
https://firebase.google.com/docs/firestore/security/iam, and the Firestore roles and
permissions index, https://cloud.google.com/iam/docs/roles-permissions/firestore):

- `spendsenseFirestoreExport` (granted on the project): `datastore.databases.export`,
  `datastore.databases.getMetadata`, `datastore.operations.get`, `datastore.operations.list`
  (the workflow lists operations so a second start never runs a second export);
- `spendsenseFirestoreExportHolds` (granted on the backup bucket only):
  `storage.objects.update`, to put and release the temporary hold that keeps the newest good
  export (object metadata only: it cannot read, overwrite or delete a backup, and the bucket's
  retention policy refuses deletes and overwrites anyway).

Custom role ids are per project; a deleted custom role keeps its id for 44 days. The
provider's create undeletes a soft-deleted role of the same id rather than failing
(https://github.com/hashicorp/terraform-provider-google-beta/blob/main/google-beta/services/resourcemanager/resource_google_project_iam_custom_role.go).
The deploy identity needs `iam.roles.create`, `iam.roles.update`, `iam.roles.delete`,
`iam.roles.get` and `iam.roles.undelete` on the project, and may grant these two roles.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra.components.common import child
from infra.settings import Settings

EXPORT_ROLE_ID = "spendsenseFirestoreExport"
HOLD_ROLE_ID = "spendsenseFirestoreExportHolds"
EXPORT_PERMISSIONS = (
    "datastore.databases.export",
    "datastore.databases.getMetadata",
    "datastore.operations.get",
    "datastore.operations.list",
)
HOLD_PERMISSIONS = ("storage.objects.update",)


def custom_role_name(project: str, role: gcp.projects.IAMCustomRole) -> pulumi.Output[str]:
    """`projects/<project>/roles/<id>`, the name a binding uses (waits for the role)."""
    return pulumi.Output.concat("projects/", project, "/roles/", role.role_id)


def export_roles(
    parent: pulumi.Resource,
    name: str,
    settings: Settings,
    provider: pulumi.ProviderResource | None,
) -> tuple[gcp.projects.IAMCustomRole, gcp.projects.IAMCustomRole]:
    """The project's two custom roles for the export account (see the module docstring)."""
    env = settings.environment
    export = gcp.projects.IAMCustomRole(
        f"{name}-export-role",
        project=settings.gcp_project,
        role_id=EXPORT_ROLE_ID,
        title=f"SpendSense Firestore export ({env})",
        description="Start and follow a Firestore export. No import, no data access.",
        permissions=list(EXPORT_PERMISSIONS),
        stage="GA",
        opts=child(parent, provider),
    )
    holds = gcp.projects.IAMCustomRole(
        f"{name}-export-holds-role",
        project=settings.gcp_project,
        role_id=HOLD_ROLE_ID,
        title=f"SpendSense backup holds ({env})",
        description="Put and release the temporary hold that keeps the newest good export.",
        permissions=list(HOLD_PERMISSIONS),
        stage="GA",
        opts=child(parent, provider),
    )
    return export, holds
