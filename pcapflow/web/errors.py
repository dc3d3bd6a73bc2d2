"""Errors of the web service: an HTTP status, a stable code and a one-line message.

The API renders them as ``{"error": {"code": ..., "message": ...}}``; pages as a readable page.
"""

from __future__ import annotations

from typing import Any


class WebError(Exception):
    """A request that cannot be served, with its HTTP status and a stable error code."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


# Stable codes for HTTP statuses raised by the framework itself (routing, validation).
STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    500: "internal_error",
}


def not_found(what: str) -> WebError:
    return WebError(404, "not_found", f"no {what}")
