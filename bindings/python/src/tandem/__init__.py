"""tandem: Python bindings for libtandem, an embeddable runtime for AI coding-agent sessions.

Pure ctypes: no compiler needed. The shared library is found through ``TANDEM_LIBRARY``, next to this package (a
wheel that bundles it), or the system's dynamic loader. Quick start::

    import tandem

    with tandem.Client({"store_dir": None}) as client:
        session = client.start_session(model="scripted:echo")
        session.send("hello")
        for event in client.events(timeout=5):
            if isinstance(event, tandem.TextDelta):
                print(event.delta, end="")
            elif isinstance(event, tandem.ApprovalPending):
                session.approve(event.approval.approval_id)
            elif isinstance(event, tandem.TurnEnded):
                break

See docs/python.md for the guide.
"""

from ._lib import LIBRARY_ENV, LibraryNotFoundError, library_path
from .client import (
    MAX_REPORTED_ERRORS,
    Client,
    ErrorHook,
    EventStream,
    ProviderRequest,
    Session,
    Subscription,
    ToolCall,
    in_callback,
    last_error_message,
    status_name,
    version,
    workdir_session_id,
)
from .enums import ApprovalDecision, EventKind, MessageLevel, PromptResult, SessionStatus, Status
from .errors import (
    AlreadyExistsError,
    BusyError,
    ForkedError,
    InternalError,
    InvalidArgumentError,
    InvalidJsonError,
    InvalidUtf8Error,
    NoPendingApprovalError,
    NotFoundError,
    NotSupportedError,
    NullArgumentError,
    PanicError,
    ProviderError,
    ProviderNotReadyError,
    ReentrantCallError,
    RestartPendingError,
    ShuttingDownError,
    TandemError,
    TandemIOError,
    TandemTimeoutError,
)
from .events import (
    ApprovalPending,
    ApprovalResolved,
    ContextUsage,
    ErrorEvent,
    Event,
    EventsDropped,
    Retrying,
    OptionsRestored,
    CommandRan,
    SandboxLimited,
    FileChanged,
    MessagesChanged,
    PendingApproval,
    Preview,
    PromptQueued,
    QueuesRecalled,
    SessionRestarted,
    SessionStarted,
    SessionStopped,
    StatusChanged,
    SubagentStarted,
    TextDelta,
    ThinkingDelta,
    ToolAutoApproved,
    ToolEnded,
    ToolStarted,
    ToolUpdate,
    TurnEnded,
    TurnLimitReached,
    Usage,
    event_from_dict,
    parse_event,
)

__version__ = "0.1.0"

__all__ = [
    "LIBRARY_ENV",
    "LibraryNotFoundError",
    "library_path",
    "Client",
    "ErrorHook",
    "MAX_REPORTED_ERRORS",
    "EventStream",
    "ProviderRequest",
    "Session",
    "Subscription",
    "ToolCall",
    "in_callback",
    "last_error_message",
    "status_name",
    "version",
    "workdir_session_id",
    "ApprovalDecision",
    "EventKind",
    "MessageLevel",
    "PromptResult",
    "SessionStatus",
    "Status",
    "AlreadyExistsError",
    "BusyError",
    "ForkedError",
    "InternalError",
    "InvalidArgumentError",
    "InvalidJsonError",
    "InvalidUtf8Error",
    "NoPendingApprovalError",
    "NotFoundError",
    "NotSupportedError",
    "NullArgumentError",
    "PanicError",
    "ProviderError",
    "ProviderNotReadyError",
    "ReentrantCallError",
    "RestartPendingError",
    "ShuttingDownError",
    "TandemError",
    "TandemIOError",
    "TandemTimeoutError",
    "ApprovalPending",
    "ApprovalResolved",
    "ContextUsage",
    "ErrorEvent",
    "Event",
    "EventsDropped",
    "Retrying",
    "OptionsRestored",
    "CommandRan",
    "SandboxLimited",
    "FileChanged",
    "MessagesChanged",
    "PendingApproval",
    "Preview",
    "PromptQueued",
    "QueuesRecalled",
    "SessionRestarted",
    "SessionStarted",
    "SessionStopped",
    "StatusChanged",
    "SubagentStarted",
    "TextDelta",
    "ThinkingDelta",
    "ToolAutoApproved",
    "ToolEnded",
    "ToolStarted",
    "ToolUpdate",
    "TurnEnded",
    "TurnLimitReached",
    "Usage",
    "event_from_dict",
    "parse_event",
]
