"""Exceptions: one :class:`TandemError` subclass per ``tandem_status`` value.

Every failing call raises the subclass for its status, carrying the status and the library's last-error message
for the calling thread (``tandem_last_error_message()``), read immediately after the failure.
"""

from __future__ import annotations

import builtins
from typing import Dict, Type

from .enums import Status


class TandemError(Exception):
    """A tandem call failed. ``status`` is the :class:`Status`, ``message`` the library's explanation."""

    #: The status this class stands for (the base class is used for values without a subclass).
    STATUS: Status = Status.ERR_INTERNAL

    def __init__(self, message: str, status: int | None = None) -> None:
        value = int(self.STATUS if status is None else status)
        #: A :class:`Status` (printed as its name), or a plain int for a value this binding does not know.
        self.status: int = value
        self.message: str = message
        try:
            self.status = Status(value)
            self.status_name = Status(value).c_name
        except ValueError:
            self.status_name = "TANDEM_UNKNOWN_STATUS"
        super().__init__(f"{self.status_name}: {message}" if message else self.status_name)


class NullArgumentError(TandemError):
    """A required argument was missing (a binding bug: the wrappers never pass NULL where it is required)."""

    STATUS = Status.ERR_NULL_ARGUMENT


class InvalidUtf8Error(TandemError):
    """A string argument was not valid UTF-8."""

    STATUS = Status.ERR_INVALID_UTF8


class InvalidJsonError(TandemError):
    """A JSON argument did not parse; the message has line and column."""

    STATUS = Status.ERR_INVALID_JSON


class InvalidArgumentError(TandemError, ValueError):
    """An argument was well-formed but not acceptable (unknown option, bad ID, out-of-range number, ...)."""

    STATUS = Status.ERR_INVALID_ARGUMENT


class NotFoundError(TandemError, LookupError):
    """No live session, subscription, tool, branch or conversation with that ID."""

    STATUS = Status.ERR_NOT_FOUND


class AlreadyExistsError(TandemError):
    """The ID (session, tool name) is taken."""

    STATUS = Status.ERR_ALREADY_EXISTS


class RestartPendingError(TandemError):
    """The session crashed and is being restarted; retry shortly."""

    STATUS = Status.ERR_RESTART_PENDING


class ProviderNotReadyError(TandemError):
    """The session's provider is not running."""

    STATUS = Status.ERR_PROVIDER_NOT_READY


class NotSupportedError(TandemError):
    """Not supported by this session or build."""

    STATUS = Status.ERR_NOT_SUPPORTED


class NoPendingApprovalError(TandemError):
    """No approval is pending, or the approval ID is stale."""

    STATUS = Status.ERR_NO_PENDING_APPROVAL


class BusyError(TandemError):
    """The resource is in use (a turn is running, another client holds the conversation, ...)."""

    STATUS = Status.ERR_BUSY


class TandemTimeoutError(TandemError, builtins.TimeoutError):
    """Nothing happened within the timeout."""

    STATUS = Status.ERR_TIMEOUT


class ReentrantCallError(TandemError):
    """The call would wait for the callback it is made from (unsubscribe itself, shut down, close)."""

    STATUS = Status.ERR_REENTRANT_CALL


class ShuttingDownError(TandemError):
    """The client is shut down."""

    STATUS = Status.ERR_SHUTTING_DOWN


class ForkedError(TandemError):
    """The client belongs to the parent process and cannot be used after ``fork()``."""

    STATUS = Status.ERR_FORKED


class TandemIOError(TandemError, OSError):
    """A filesystem operation failed."""

    STATUS = Status.ERR_IO


class ProviderError(TandemError):
    """The model provider failed."""

    STATUS = Status.ERR_PROVIDER


class PanicError(TandemError):
    """tandem panicked inside the call; the panic was contained."""

    STATUS = Status.ERR_PANIC


class InternalError(TandemError):
    """A bug in tandem."""

    STATUS = Status.ERR_INTERNAL


_BY_STATUS: Dict[int, Type[TandemError]] = {
    int(cls.STATUS): cls
    for cls in (
        NullArgumentError,
        InvalidUtf8Error,
        InvalidJsonError,
        InvalidArgumentError,
        NotFoundError,
        AlreadyExistsError,
        RestartPendingError,
        ProviderNotReadyError,
        NotSupportedError,
        NoPendingApprovalError,
        BusyError,
        TandemTimeoutError,
        ReentrantCallError,
        ShuttingDownError,
        ForkedError,
        TandemIOError,
        ProviderError,
        PanicError,
        InternalError,
    )
}


def error_for(status: int, message: str) -> TandemError:
    """The exception for a failed call's ``status`` (a :class:`TandemError` for values this binding does not know)."""
    cls = _BY_STATUS.get(status)
    return cls(message) if cls is not None else TandemError(message, status)
