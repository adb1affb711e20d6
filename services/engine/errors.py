"""What a service refuses, in terms an entry point maps to HTTP statuses or exit codes."""
from __future__ import annotations

from pydantic import ValidationError

from states.common import ActionNotAvailable, ActionRefused, NotPermitted, UnknownAction  # noqa: F401


class ServiceError(Exception):
    pass


class NotAuthenticated(ServiceError):
    """401: no credentials, or wrong ones."""


class SecondFactorRequired(NotAuthenticated):
    """401: the password was right; the sign-in needs the code of the user's second factor."""

    def __init__(self, pending: str | None = None):
        self.pending = pending  # the session waiting for the code (a page carries it on)
        super().__init__("two-factor code required: send it as `otp` with the password")


class TooManyAttempts(ServiceError):
    """429: too many failed sign-ins for this account or from this address; try again later."""

    def __init__(self, retry_after: int, why: str):
        self.retry_after = max(1, int(retry_after))
        super().__init__(f"{why}: try again in {_duration(self.retry_after)}")


def _duration(seconds: int) -> str:
    minutes = -(-seconds // 60)
    return f"{seconds} second{'s' if seconds != 1 else ''}" if seconds < 60 else \
        f"{minutes} minute{'s' if minutes != 1 else ''}"


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


class TooLarge(ServiceError):
    """413: a file over the limit (nothing of it is kept)."""

    def __init__(self, limit: int):
        self.limit = limit
        super().__init__(f"the file is larger than the limit of {limit // (1024 * 1024)} MB")


class UnsupportedType(ServiceError):
    """415: a file whose content is not of a type accepted (nothing of it is kept)."""
