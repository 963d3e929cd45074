"""Firestore's data REST API for what restore and drill check: the top-level collections,
documents per collection id (a collection-group COUNT), and emptying a scratch database."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from spendsense.errors import OperationFailed
from spendsense.ops.firestore.transport import int64, json_object, send


class DataApi:
    """Firestore's data REST API (`.../documents:runAggregationQuery`, `:listCollectionIds`)."""

    def __init__(self, session: Any, base_url: str, project: str, database: str) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.project = project
        self.database = database

    @property
    def documents_url(self) -> str:
        return (
            f"{self.base_url}/v1/projects/{self.project}/databases/"
            f"{quote(self.database, safe='()')}/documents"
        )

    def collection_ids(self) -> list[str]:
        """The top-level collection ids (every page)."""
        ids: list[str] = []
        token: str | None = None
        while True:
            body: dict[str, Any] = {"pageSize": 300}
            if token:
                body["pageToken"] = token
            answer = send(
                self.session,
                "POST",
                f"{self.documents_url}:listCollectionIds",
                f"list the collections of {self.project}/{self.database}",
                body,
            )
            found = json_object(answer).get("collectionIds")
            ids.extend(
                cid for cid in (found if isinstance(found, list) else []) if isinstance(cid, str)
            )
            token = json_object(answer).get("nextPageToken")
            if not isinstance(token, str) or not token:
                return sorted(ids)

    def count(self, collection_id: str) -> int:
        """Documents in every collection with this id, at any depth (collection-group COUNT)."""
        body = {
            "structuredAggregationQuery": {
                "structuredQuery": {
                    "from": [{"collectionId": collection_id, "allDescendants": True}]
                },
                "aggregations": [{"alias": "n", "count": {}}],
            }
        }
        answer = send(
            self.session,
            "POST",
            f"{self.documents_url}:runAggregationQuery",
            f"count the documents of {collection_id} in {self.project}/{self.database}",
            body,
        )
        for item in answer if isinstance(answer, list) else [answer]:
            fields = json_object(
                json_object(json_object(item).get("result")).get("aggregateFields")
            )
            if "n" in fields:
                value = int64(json_object(fields["n"]).get("integerValue", 0))
                if value is None:
                    raise OperationFailed(
                        f"count the documents of {collection_id}: the answer's count is not a "
                        f"number ({str(fields['n'])[:80]})"
                    )
                return value
        return 0

    def counts(self, collection_ids: list[str]) -> dict[str, int]:
        return {cid: self.count(cid) for cid in sorted(set(collection_ids))}

    def document_names(self, limit: int = 500) -> list[str]:
        """The full names of up to `limit` documents at any depth, in name order (a kindless
        all-descendants query that selects only the name, as the SDKs' recursive delete does)."""
        body = {
            "structuredQuery": {
                "from": [{"allDescendants": True}],
                "select": {"fields": [{"fieldPath": "__name__"}]},
                "orderBy": [{"field": {"fieldPath": "__name__"}, "direction": "ASCENDING"}],
                "limit": limit,
            }
        }
        answer = send(
            self.session,
            "POST",
            f"{self.documents_url}:runQuery",
            f"list the documents of {self.project}/{self.database}",
            body,
        )
        names: list[str] = []
        for item in answer if isinstance(answer, list) else []:
            document = item.get("document") if isinstance(item, dict) else None
            if isinstance(document, dict) and isinstance(document.get("name"), str):
                names.append(document["name"])
        return names

    def delete_documents(self, names: list[str]) -> None:
        """Delete these documents (full names in this database), at most 500 per commit."""
        prefix = f"projects/{self.project}/databases/{self.database}/documents/"
        for name in names:
            if not name.startswith(prefix):  # never a document of another database
                raise OperationFailed(f"refusing to delete {name}: it is not in {prefix}")
        for start in range(0, len(names), 500):
            send(
                self.session,
                "POST",
                f"{self.documents_url}:commit",
                f"delete documents in {self.project}/{self.database}",
                {"writes": [{"delete": name} for name in names[start : start + 500]]},
            )
