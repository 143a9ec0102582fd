"""Events as dataclasses, one class per ``kind`` (see ``schemas/tandem.schema.json`` and docs/events.md).

Every event has ``seq`` (per session, from 1), ``session_id`` (``None`` for client-level events such as
:class:`EventsDropped`), ``kind`` (the JSON tag) and ``raw`` (the whole decoded document). :func:`parse_event`
turns a JSON document into the matching class; kinds this binding does not know yet become a plain :class:`Event`,
so a newer library never breaks an older binding.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, ClassVar, Dict, List, Optional, Type, TypeVar

__all__ = [
    "Event",
    "SessionStarted",
    "SessionStopped",
    "SessionRestarted",
    "SubagentStarted",
    "SubagentFinished",
    "StatusChanged",
    "MessagesChanged",
    "TextDelta",
    "ThinkingDelta",
    "ToolStarted",
    "ToolUpdate",
    "ToolEnded",
    "ToolAutoApproved",
    "ApprovalPending",
    "ApprovalResolved",
    "FileChanged",
    "PromptQueued",
    "QueuesRecalled",
    "ContextUsage",
    "TurnLimitReached",
    "TurnEnded",
    "ErrorEvent",
    "EventsDropped",
    "Usage",
    "Preview",
    "PendingApproval",
    "parse_event",
    "event_from_dict",
    "event_class",
]

_E = TypeVar("_E", bound="Event")


@dataclasses.dataclass(frozen=True)
class Usage:
    """Token usage and cost: of a turn (:class:`TurnEnded`) or accumulated (``Session.usage()``)."""

    input: int
    output: int
    cache_read: int
    cache_write: int
    cost: float

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Usage":
        """Builds it from the JSON object ``{"input", "output", "cache_read", "cache_write", "cost"}``."""
        return cls(
            input=int(data["input"]),
            output=int(data["output"]),
            cache_read=int(data["cache_read"]),
            cache_write=int(data["cache_write"]),
            cost=float(data["cost"]),
        )


@dataclasses.dataclass(frozen=True)
class Preview:
    """What an approval would do: ``kind`` is ``command``, ``diff``, ``target`` or ``args``."""

    kind: str
    summary: str
    lines: List[str]


@dataclasses.dataclass(frozen=True)
class PendingApproval:
    """A tool call waiting for the host's decision; answer it with ``Session.approve`` / ``Session.reject``."""

    approval_id: str
    tool_call_id: str
    name: str
    args: Any
    preview: Preview

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "PendingApproval":
        """Builds it from the ``pending_approval`` JSON object."""
        p = data["preview"]
        return cls(
            approval_id=data["approval_id"],
            tool_call_id=data["tool_call_id"],
            name=data["name"],
            args=data["args"],
            preview=Preview(kind=p["kind"], summary=p["summary"], lines=list(p["lines"])),
        )


@dataclasses.dataclass(frozen=True)
class Event:
    """An event of any kind; the subclasses add the fields of their kind."""

    KIND: ClassVar[str] = ""
    seq: int
    session_id: Optional[str]
    kind: str
    raw: Dict[str, Any] = dataclasses.field(repr=False, compare=False)

    @classmethod
    def _convert(cls, data: Dict[str, Any]) -> Dict[str, Any]:
        """The constructor arguments of this kind's own fields (subclasses with nested values override it)."""
        own = [f for f in dataclasses.fields(cls) if f.name not in ("seq", "session_id", "kind", "raw")]
        out: Dict[str, Any] = {}
        for f in own:
            if f.name in data:
                out[f.name] = data[f.name]
            elif f.default is dataclasses.MISSING:
                raise ValueError(f"{cls.KIND} event without {f.name!r}: {data}")
        return out

    @property
    def parent_id(self) -> Optional[str]:
        """The parent session of a sub-agent's event (``None`` for top-level sessions), to show the tree."""
        value = self.raw.get("parent_id")
        return None if value is None else str(value)

    @classmethod
    def from_dict(cls: Type[_E], data: Dict[str, Any]) -> _E:
        """Builds the event from its decoded JSON document."""
        return cls(
            seq=int(data["seq"]), session_id=data.get("session_id"), kind=str(data["kind"]), raw=data,
            **cls._convert(data),
        )


@dataclasses.dataclass(frozen=True)
class SessionStarted(Event):
    """A session started (also a sub-agent: ``background``)."""

    KIND: ClassVar[str] = "session_started"
    model: str
    provider: str
    background: bool


@dataclasses.dataclass(frozen=True)
class SessionStopped(Event):
    """A session went away: ``reason`` is ``stopped``, ``idle``, ``restart_exhausted`` or ``shutdown``."""

    KIND: ClassVar[str] = "session_stopped"
    reason: str
    detail: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class SessionRestarted(Event):
    """The session crashed and was restarted with its conversation (``attempt`` counts within the window)."""

    KIND: ClassVar[str] = "session_restarted"
    reason: str
    attempt: int


@dataclasses.dataclass(frozen=True)
class SubagentStarted(Event):
    """A background sub-agent started; ``handle`` is ``{session_id, parent_session_id, task, model, started_at, detached}``."""

    KIND: ClassVar[str] = "subagent_started"
    handle: Dict[str, Any]


@dataclasses.dataclass(frozen=True)
class StatusChanged(Event):
    """The session's status: ``idle``, ``thinking``, ``tool_executing``, ``error`` or ``plan``."""

    KIND: ClassVar[str] = "status_changed"
    status: str


@dataclasses.dataclass(frozen=True)
class MessagesChanged(Event):
    """The transcript changed; re-read it with ``Session.messages()`` if you show it."""

    KIND: ClassVar[str] = "messages_changed"


@dataclasses.dataclass(frozen=True)
class TextDelta(Event):
    """Streamed answer text of message ``message_id``."""

    KIND: ClassVar[str] = "text_delta"
    message_id: int
    delta: str


@dataclasses.dataclass(frozen=True)
class ThinkingDelta(Event):
    """Streamed thinking of message ``message_id``."""

    KIND: ClassVar[str] = "thinking_delta"
    message_id: int
    delta: str


@dataclasses.dataclass(frozen=True)
class ToolStarted(Event):
    """A tool call started running."""

    KIND: ClassVar[str] = "tool_started"
    tool_call_id: str
    name: str
    args: Any
    message_id: int


@dataclasses.dataclass(frozen=True)
class ToolUpdate(Event):
    """Output so far of a running tool (``shell`` streams its output this way)."""

    KIND: ClassVar[str] = "tool_update"
    tool_call_id: str
    name: str
    partial_result: str


@dataclasses.dataclass(frozen=True)
class ToolEnded(Event):
    """A tool call finished; ``result`` is what the model sees."""

    KIND: ClassVar[str] = "tool_ended"
    tool_call_id: str
    name: str
    result: str
    is_error: bool


@dataclasses.dataclass(frozen=True)
class ToolAutoApproved(Event):
    """A tool call ran without asking because of an earlier approve-for-turn/session (``scope``)."""

    KIND: ClassVar[str] = "tool_auto_approved"
    tool_call_id: str
    name: str
    scope: str


@dataclasses.dataclass(frozen=True)
class ApprovalPending(Event):
    """A tool call waits for the host: answer with ``Session.approve(event.approval.approval_id)`` or reject."""

    KIND: ClassVar[str] = "approval_pending"
    approval: PendingApproval

    @classmethod
    def _convert(cls, data: Dict[str, Any]) -> Dict[str, Any]:
        return {"approval": PendingApproval.from_dict(data["approval"])}


@dataclasses.dataclass(frozen=True)
class ApprovalResolved(Event):
    """An approval was answered: ``approve``, ``approve_turn``, ``approve_session``, ``reject``, ``cancelled`` or
    ``timed_out``."""

    KIND: ClassVar[str] = "approval_resolved"
    approval_id: str
    decision: str


@dataclasses.dataclass(frozen=True)
class FileChanged(Event):
    """A tool created, modified or deleted ``path`` (``before``/``after`` are its contents, capped: ``truncated``)."""

    KIND: ClassVar[str] = "file_changed"
    tool_call_id: str
    tool_name: str
    path: str
    action: str
    before: str
    after: str
    truncated: bool


@dataclasses.dataclass(frozen=True)
class BoundaryViolated(Event):
    """A ``shell`` command (or a tool pi ran) changed ``path`` outside its edit ``boundary``: ``changed`` ranges."""

    KIND: ClassVar[str] = "boundary_violated"
    tool_call_id: str
    tool_name: str
    path: str
    boundary: Dict[str, int]
    changed: List[Dict[str, int]]
    message: str


@dataclasses.dataclass(frozen=True)
class PromptQueued(Event):
    """A prompt was queued (``queue`` is ``steering`` or ``follow_up``) because a turn is running."""

    KIND: ClassVar[str] = "prompt_queued"
    queue: str
    content: List[Dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class QueuesRecalled(Event):
    """Queued prompts were taken back or cleared."""

    KIND: ClassVar[str] = "queues_recalled"


@dataclasses.dataclass(frozen=True)
class ContextUsage(Event):
    """Estimated size of the model context (``context_limit`` is ``None`` when unknown)."""

    KIND: ClassVar[str] = "context_usage"
    estimated_tokens: int
    context_limit: Optional[int]


@dataclasses.dataclass(frozen=True)
class TurnLimitReached(Event):
    """The turn hit the session's ``max_turns``."""

    KIND: ClassVar[str] = "turn_limit_reached"
    current: int
    limit: int


@dataclasses.dataclass(frozen=True)
class TurnEnded(Event):
    """A turn ended: ``reason`` is ``completed``, ``error``, ``aborted`` or ``interrupted`` (by a crash)."""

    KIND: ClassVar[str] = "turn_ended"
    reason: str
    usage: Optional[Usage]

    @classmethod
    def _convert(cls, data: Dict[str, Any]) -> Dict[str, Any]:
        usage = data.get("usage")
        return {"reason": data["reason"], "usage": Usage.from_dict(usage) if usage is not None else None}


@dataclasses.dataclass(frozen=True)
class ErrorEvent(Event):
    """An error the session reports (provider failures, store failures, ...); the session goes on."""

    KIND: ClassVar[str] = "error"
    message: str


@dataclasses.dataclass(frozen=True)
class EventsDropped(Event):
    """A queue was full and ``count`` events were dropped (client-level: ``session_id`` is ``None``)."""

    KIND: ClassVar[str] = "events_dropped"
    count: int


@dataclasses.dataclass(frozen=True)
class Retrying(Event):
    """A failed model call is retried after ``delay_ms`` (retry ``attempt`` of ``max_retries``)."""

    KIND: ClassVar[str] = "retrying"
    attempt: int
    max_retries: int
    delay_ms: int
    reason: str


@dataclasses.dataclass(frozen=True)
class OptionsRestored(Event):
    """A stored session resumed with its stored options: the keys ``restored`` and those the resume ``overridden``."""

    KIND: ClassVar[str] = "options_restored"
    restored: List[str]
    overridden: Dict[str, Any]
    touched_files: int


@dataclasses.dataclass(frozen=True)
class SandboxLimited(Event):
    """The shell's OS sandbox cannot enforce everything on this machine: ``not_enforced`` says what."""

    KIND: ClassVar[str] = "sandbox_limited"
    not_enforced: List[str]


@dataclasses.dataclass(frozen=True)
class SubagentFinished(Event):
    """A sub-agent of this session finished a turn and came to rest: its ``answer`` (the last assistant text,
    empty when it said nothing) and how the turn ended (``reason``). The parent's transcript has a note too."""

    KIND: ClassVar[str] = "subagent_finished"
    subagent_session_id: str
    parent_session_id: str
    answer: str
    reason: str


@dataclasses.dataclass(frozen=True)
class McpServerStatus(Event):
    """An MCP server changed state (``ready``, ``restarting``, ``failed`` or ``disabled``): why it failed, its last
    stderr lines, and the names its tools are offered under."""

    KIND: ClassVar[str] = "mcp_server_status"
    server: str
    state: str
    detail: Optional[str]
    stderr: List[str]
    tools: List[str]


@dataclasses.dataclass(frozen=True)
class HookFailed(Event):
    """A hook failed (timeout, error, malformed answer) and its ``on_failure`` default (``continue`` or ``deny``)
    was taken; ``command`` is ``None`` for a callback."""

    KIND: ClassVar[str] = "hook_failed"
    hook_id: int
    hook_event: str
    command: Optional[str]
    reason: str
    on_failure: str


@dataclasses.dataclass(frozen=True)
class PlanUpdated(Event):
    """The agent's plan changed (an ACP agent's ``plan`` update): the whole plan, each entry ``{content, priority,
    status}`` (priority ``high``/``medium``/``low``; status ``pending``/``in_progress``/``completed``)."""

    KIND: ClassVar[str] = "plan_updated"
    entries: List[Dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class ContextFilesLoaded(Event):
    """The project context files (AGENTS.md, ...) were loaded or changed: the whole list, lowest precedence first,
    each ``{path, reason, bytes, loaded_bytes, truncated, error?}`` (as :meth:`Session.context_files`)."""

    KIND: ClassVar[str] = "context_files_loaded"
    files: List[Dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class BudgetExhausted(Event):
    """A budget of the session's tree ran out (``limit``: ``max_cost`` or ``max_tokens_total``, owned by session
    ``budget_session_id``): the turn ends with reason ``budget_exhausted``."""

    KIND: ClassVar[str] = "budget_exhausted"
    limit: str
    budget_session_id: str
    spent: float
    allowed: float
    cost: float
    tokens: int


@dataclasses.dataclass(frozen=True)
class CommandRan(Event):
    """A slash command sent as a prompt was run: its name, arguments and result."""

    KIND: ClassVar[str] = "command_ran"
    command: str
    args: str
    result: Any


_KINDS: Dict[str, Type[Event]] = {
    cls.KIND: cls
    for cls in (
        SessionStarted,
        SessionStopped,
        SessionRestarted,
        SubagentStarted,
        StatusChanged,
        MessagesChanged,
        TextDelta,
        ThinkingDelta,
        ToolStarted,
        ToolUpdate,
        ToolEnded,
        ToolAutoApproved,
        ApprovalPending,
        ApprovalResolved,
        FileChanged,
        PromptQueued,
        QueuesRecalled,
        ContextUsage,
        TurnLimitReached,
        TurnEnded,
        ErrorEvent,
        EventsDropped,
        Retrying,
        OptionsRestored,
        CommandRan,
        SandboxLimited,
        SubagentFinished,
        BoundaryViolated,
        McpServerStatus,
        HookFailed,
        PlanUpdated,
        ContextFilesLoaded,
        BudgetExhausted,
    )
}


def event_class(kind: str) -> Type[Event]:
    """The dataclass for a ``kind`` tag (:class:`Event` for kinds this binding does not know)."""
    return _KINDS.get(kind, Event)


def event_from_dict(data: Dict[str, Any]) -> Event:
    """Builds the dataclass for one decoded event document."""
    if not isinstance(data, dict) or "kind" not in data:
        raise ValueError(f"not an event: {data!r}")
    return event_class(str(data["kind"])).from_dict(data)


def parse_event(document: str | bytes) -> Event:
    """Decodes one event's JSON document into its dataclass."""
    data = json.loads(document)
    return event_from_dict(data)
