"""How a Firestore export or import can end badly, by what it means for the data."""

from __future__ import annotations

from spendsense.errors import OperationFailed


class AdminOperationFailed(OperationFailed):
    """The operation ended (`done`) with an error: nothing of it runs on the server any more."""


class ExportCancelled(AdminOperationFailed):
    """The operation was cancelled before it finished."""


class AdminTimedOut(OperationFailed):
    """The operation did not finish within the timeout (it keeps running in the background)."""


class RequestUnanswered(OperationFailed):
    """A request whose outcome is unknown: it got no answer (connection lost, timed out) or,
    for a request that creates an operation, a server error (HTTP 5xx other than 501): it may
    or may not have acted. `outcome` says which, for the state statement."""

    def __init__(self, message: str, outcome: str = "got no answer") -> None:
        super().__init__(message)
        self.outcome = outcome
