"""The C enums of ``tandem.h`` as :class:`enum.IntEnum` classes (same numeric values).

They print as their names on every Python version: ``str(SessionStatus.IDLE)`` and ``f"{SessionStatus.IDLE}"`` are
``"SessionStatus.IDLE"``, ``repr()`` is ``"<SessionStatus.IDLE: 0>"``. They still compare and convert as integers
(``int(s)``, ``s == 0``), and a format spec formats the number (``f"{s:d}"`` is ``"0"``).
"""

from __future__ import annotations

import enum


class _NamedIntEnum(enum.IntEnum):
    """An IntEnum whose ``str()`` and f-string show ``Class.NAME`` (plain IntEnum shows the bare number in
    f-strings, and since Python 3.11 in ``str()`` too)."""

    def __str__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    def __format__(self, format_spec: str) -> str:
        if format_spec:  # "d", "03", ... ask for the number
            return int.__format__(int(self), format_spec)
        return str(self)


class Status(_NamedIntEnum):
    """``tandem_status``: the result of every fallible call. Failures are raised as :class:`TandemError`."""

    OK = 0
    ERR_NULL_ARGUMENT = 1
    ERR_INVALID_UTF8 = 2
    ERR_INVALID_JSON = 3
    ERR_INVALID_ARGUMENT = 4
    ERR_NOT_FOUND = 5
    ERR_ALREADY_EXISTS = 6
    ERR_RESTART_PENDING = 7
    ERR_PROVIDER_NOT_READY = 8
    ERR_NOT_SUPPORTED = 9
    ERR_NO_PENDING_APPROVAL = 10
    ERR_BUSY = 11
    ERR_TIMEOUT = 12
    ERR_REENTRANT_CALL = 13
    ERR_SHUTTING_DOWN = 14
    ERR_FORKED = 15
    ERR_IO = 16
    ERR_PROVIDER = 17
    ERR_PANIC = 18
    ERR_INTERNAL = 19

    @property
    def c_name(self) -> str:
        """The C name, e.g. ``"TANDEM_ERR_NOT_FOUND"`` (what ``tandem_status_name`` returns)."""
        return "TANDEM_" + self.name


class PromptResult(_NamedIntEnum):
    """``tandem_prompt_result``: what happened to a prompt."""

    SENT = 0
    """A turn started with it."""
    QUEUED_STEERING = 1
    """A turn is running; it was queued as steering."""
    QUEUED_FOLLOW_UP = 2
    """A turn is running; it was queued as a follow-up."""
    COMMAND = 3
    """It was a slash command (``/plan``, ``/compact``, ...), run instead of sent; see ``command_ran``."""


class SessionStatus(_NamedIntEnum):
    """``tandem_session_status``; ``str(status.label)`` is the name used in JSON (``"tool_executing"``)."""

    IDLE = 0
    THINKING = 1
    TOOL_EXECUTING = 2
    ERROR = 3
    PLAN = 4

    @property
    def label(self) -> str:
        """The status as it appears in events and metadata, e.g. ``"idle"``."""
        return self.name.lower()


class EventKind(_NamedIntEnum):
    """``tandem_event_kind``; ``kind.label`` is the ``"kind"`` tag of the event's JSON."""

    SESSION_STARTED = 1
    SESSION_STOPPED = 2
    SESSION_RESTARTED = 3
    SUBAGENT_STARTED = 4
    STATUS_CHANGED = 5
    MESSAGES_CHANGED = 6
    TEXT_DELTA = 7
    THINKING_DELTA = 8
    TOOL_STARTED = 9
    TOOL_UPDATE = 10
    TOOL_ENDED = 11
    TOOL_AUTO_APPROVED = 12
    APPROVAL_PENDING = 13
    APPROVAL_RESOLVED = 14
    FILE_CHANGED = 15
    PROMPT_QUEUED = 16
    QUEUES_RECALLED = 17
    CONTEXT_USAGE = 18
    TURN_LIMIT_REACHED = 19
    TURN_ENDED = 20
    ERROR = 21
    EVENTS_DROPPED = 22
    RETRYING = 23
    OPTIONS_RESTORED = 24
    COMMAND_RAN = 25
    SANDBOX_LIMITED = 26
    SUBAGENT_FINISHED = 27
    BOUNDARY_VIOLATED = 28
    MCP_SERVER_STATUS = 29
    HOOK_FAILED = 30
    PLAN_UPDATED = 31
    CONTEXT_FILES_LOADED = 32
    BUDGET_EXHAUSTED = 33

    @property
    def label(self) -> str:
        """The JSON ``"kind"`` tag, e.g. ``"text_delta"``."""
        return self.name.lower()


class MessageLevel(_NamedIntEnum):
    """``tandem_message_level``: severity of a system message."""

    INFO = 0
    ERROR = 1


class ApprovalDecision(_NamedIntEnum):
    """``tandem_approval_decision``: a host's answer to an approval."""

    APPROVE = 0
    """Run this call."""
    APPROVE_TURN = 1
    """Run it, and every call of this tool until the turn ends."""
    APPROVE_SESSION = 2
    """Run it, and every call of this tool in this conversation."""
    REJECT = 3
    """Do not run it; the agent is told it was refused."""
