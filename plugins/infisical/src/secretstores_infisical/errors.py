"""Reading Infisical's error answers: what failed, and which of the core's errors it is.

Infisical answers errors with a JSON body ``{"reqId", "statusCode", "message",
"error"}`` (its Fastify error handler). The SDK raises ``APIError`` with the
status and that body; :func:`answer_of` reads them. Then:

- **401**, or **403 with ``"error": "TokenError"``** (an expired, malformed or
  badly signed JWT), or a 400 about the token's use limit: the session's token no
  longer works: :class:`~secretstores.errors.Unauthorized` (the core logs in
  again and retries once);
- **403** otherwise (``PermissionDenied``, ``ForbiddenReadSecretError``,
  ``ProjectMembershipNotFound``): denied;
- **404** "Secret with name '...' not found": not found; "Folder with path ...",
  "Project with ...", "Environment with slug ...": a missing folder, project or
  environment (misconfigured when it is the store's own); a 404 without
  Infisical's JSON body: ``siteUrl`` is not an Infisical instance (misconfigured);
- a 500 (Infisical failing): unavailable, an outage (a cached value may be served stale);
- anything else: unavailable, with Infisical's message.

429 and 502/503/504 never get here: :mod:`secretstores_infisical.transport` turns
them into ThrottledError and TransientError. Infisical's messages name keys,
folders, projects and environments, never a value or a token; they are cut to
:data:`MAX_MESSAGE` characters all the same.
"""

from __future__ import annotations

import attrs

#: The most characters of a server's message quoted in an error.
MAX_MESSAGE = 300


@attrs.frozen
class Answer:
    """An error answer: status, Infisical's ``error`` name and ``message``."""

    status: int
    error: str
    message: str
    #: Whether the body is Infisical's JSON error (it has ``statusCode``).
    infisical: bool

    @property
    def token_problem(self) -> bool:
        """The token expired, was revoked or is not a valid Infisical token."""
        if self.status == 401:
            return True
        if self.status == 403 and self.error == "TokenError":
            return True
        return self.status == 400 and "uses limit" in self.message

    @property
    def missing(self) -> str | None:
        """What a 404 says is missing: ``secret``, ``folder``, ``project``,
        ``environment``, or ``None`` (not Infisical's answer, or an unknown route)."""
        if self.status != 404 or not self.infisical:
            return None
        message = self.message
        if message.startswith(("Secret with name", "Secret not found")):
            return "secret"
        if message.startswith("Folder with path"):
            return "folder"
        if message.startswith("Project with"):
            return "project"
        if message.startswith("Environment with slug"):
            return "environment"
        return None

    def describe(self) -> str:
        """``HTTP 404 NotFound: Secret with name 'X' not found`` (cut to MAX_MESSAGE)."""
        message = self.message if len(self.message) <= MAX_MESSAGE \
            else self.message[:MAX_MESSAGE] + "..."
        name = f" {self.error}" if self.error else ""
        return f"HTTP {self.status}{name}: {message}" if message else f"HTTP {self.status}{name}"


def answer_of(exc: BaseException) -> Answer | None:
    """The :class:`Answer` of an SDK ``APIError`` (None for any other exception)."""
    status = getattr(exc, "status_code", None)
    body = getattr(exc, "response", None)
    if not isinstance(status, int) or not isinstance(body, dict):
        return None
    message = body.get("message")
    if not isinstance(message, str):  # a ZodError's issues list, or nothing
        message = "the request was refused as invalid" if message is not None else ""
    error = body.get("error")
    return Answer(status, error if isinstance(error, str) else "",
                  " ".join(message.split()), "statusCode" in body)


def not_infisical(site: str, answer: Answer | None = None, what: str = "") -> str:
    """The message for an answer that is not Infisical's API."""
    got = f"HTTP {answer.status} without Infisical's JSON error body" if answer is not None \
        else "an answer that is not Infisical's JSON"
    where = f" for {what}" if what else ""
    return f"{site} answered {got}{where}: is 'siteUrl' the Infisical instance URL?"


def sdk_error(exc: BaseException) -> bool:
    """Whether ``exc`` is one of the SDK's own errors (``InfisicalError`` and subclasses)."""
    return any(cls.__name__ == "InfisicalError" and cls.__module__.startswith("infisical_sdk")
               for cls in type(exc).__mro__)


def parse_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is the SDK failing to read an answer's shape (not Infisical's API, or a
    change-approval answer): ``KeyError``/``TypeError`` from its models, or invalid JSON."""
    if isinstance(exc, KeyError | TypeError | AttributeError):
        return True
    return sdk_error(exc) and answer_of(exc) is None


__all__ = ["MAX_MESSAGE", "Answer", "answer_of", "not_infisical", "parse_failure", "sdk_error"]
