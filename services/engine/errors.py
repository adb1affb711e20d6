"""What a service refuses, in terms an entry point maps to HTTP statuses or exit codes."""
from __future__ import annotations

from pydantic import ValidationError

from states.common import ActionNotAvailable, ActionRefused, NotPermitted, UnknownAction  # noqa: F401


class ServiceError(Exception):
    pass


class NotAuthenticated(ServiceError):
    """401: no credentials, or wrong ones."""


class Forbidden(ServiceError):
    """403: outside the caller's role."""


class NotFound(ServiceError):
    """404: no such item, or not one the caller may see."""

    def __init__(self, what: str):
        super().__init__(f"{what} not found")


class VersionConflict(ServiceError):
    """409: the caller acted on a version that is no longer current."""

    def __init__(self, expected: int | str, current: int):
        self.expected, self.current = expected, current
        super().__init__(f"version {expected} is not current: the item is at version {current}; "
                         "reload it and try again")


class InvalidInput(ServiceError):
    """422: field-level messages, each {"field": "a.b", "message": "..."}."""

    def __init__(self, errors: list[dict]):
        self.errors = errors
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))

    @classmethod
    def one(cls, field: str, message: str) -> InvalidInput:
        return cls([{"field": field, "message": message}])

    @classmethod
    def from_validation(cls, exc: ValidationError, prefix: tuple = ()) -> InvalidInput:
        errors = []
        for e in exc.errors(include_url=False):
            loc = [str(p) for p in (*prefix, *e["loc"])]
            msg = e["msg"].removeprefix("Value error, ")
            if e["type"] == "extra_forbidden":
                msg = "unknown field"
            errors.append({"field": ".".join(loc) or "body", "message": msg})
        return cls(errors)
