"""``Client``, ``Session``, ``Subscription`` and host tools: the Pythonic layer over the C API.

Threads: every method may be called from any thread. Event callbacks run on tandem's dispatcher thread, one at a
time; an exception raised by a callback stays with its subscription: it is reported once to that subscription's
``on_error`` hook (default: logged on the ``"tandem"`` logger) and never surfaces in other calls. Blocking calls
release the GIL while they wait in C.
"""

from __future__ import annotations

import asyncio
import ctypes
import itertools
import json
import logging
import threading
import weakref
from types import TracebackType
from typing import (
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Type,
    Union,
)

from . import _lib
from .enums import ApprovalDecision, EventKind, MessageLevel, PromptResult, SessionStatus, Status
from .errors import NotFoundError, ShuttingDownError, TandemError, TandemTimeoutError, error_for
from .events import Event, SessionStopped, Usage, event_from_dict, parse_event

logger = logging.getLogger("tandem")
"""The binding's logger: callback exceptions without an ``on_error`` hook are logged here."""

JSON = Any
"""A decoded JSON value (dict, list, str, int, float, bool or None)."""

Options = Mapping[str, Any]
EventCallback = Callable[[Event], None]
ErrorHook = Callable[[BaseException, Event], None]
"""``on_error(exception, event)``: told about an exception a subscription's callback raised for ``event``."""

#: How many callback exceptions a subscription reports by default; later ones are only counted.
MAX_REPORTED_ERRORS = 10
ToolHandler = Callable[["ToolCall"], Optional[str]]
#: A hook: gets the hook input document, returns the answer document (``None``: no opinion, the step goes on).
HookHandler = Callable[[Dict[str, Any]], Optional[Mapping[str, Any]]]
ProviderHandler = Callable[["ProviderRequest"], None]

_MAX_TIMEOUT_MS = 0xFFFF_FFFF

# ---- helpers around the C calls -----------------------------------------------------------------------------------


def _encode(value: str, what: str = "argument") -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be str, not {type(value).__name__}")
    data = value.encode("utf-8")
    if b"\0" in data:
        raise ValueError(f"{what} contains a NUL character")
    return data


def _encode_opt(value: Optional[str], what: str = "argument") -> Optional[bytes]:
    return None if value is None else _encode(value, what)


def _dumps(value: Any) -> bytes:
    return _encode(json.dumps(value, ensure_ascii=False), "JSON")


def _timeout_ms(seconds: Optional[float]) -> int:
    if seconds is None:
        return _MAX_TIMEOUT_MS
    if seconds < 0:
        raise ValueError("timeout must not be negative")
    return min(int(seconds * 1000), _MAX_TIMEOUT_MS)


def last_error_message() -> str:
    """``tandem_last_error_message()``: the detail of the calling thread's last failed call ("" if none)."""
    raw = _lib.load().tandem_last_error_message()
    return raw.decode("utf-8", "replace") if raw else ""


def _check(status: int) -> None:
    if status != 0:
        raise error_for(status, last_error_message())


def _take_string(ptr: ctypes.c_void_p) -> str:
    """Copies a ``char **out`` result into a str and frees the C string."""
    lib = _lib.load()
    try:
        return ctypes.string_at(ptr.value).decode("utf-8") if ptr.value else ""
    finally:
        lib.tandem_string_free(ptr)


def _call_string(fn: Any, *args: Any) -> str:
    out = ctypes.c_void_p()
    _check(fn(*args, ctypes.byref(out)))
    return _take_string(out)


def _call_json(fn: Any, *args: Any) -> JSON:
    return json.loads(_call_string(fn, *args))


def version() -> str:
    """The library's version, e.g. ``"0.1.0"`` (``tandem_version``)."""
    raw = _lib.load().tandem_version()
    return raw.decode("utf-8") if raw else ""


def status_name(status: int) -> str:
    """The C name of a status value, e.g. ``"TANDEM_ERR_NOT_FOUND"`` (``tandem_status_name``)."""
    raw = _lib.load().tandem_status_name(status)
    return raw.decode("utf-8") if raw else ""


def workdir_session_id(path: str) -> str:
    """The stable session ID for a working directory: ``"workdir-"`` + 16 hex digits of its path's SHA-256."""
    return _call_string(_lib.load().tandem_workdir_session_id, _encode(path, "path"))


def queue_entries_to_text(entries: Sequence[Any]) -> str:
    """Queue entries (strings or lists of content parts, as :meth:`Session.recall_queues` returns them) as one text
    for a prompt input: entries separated by a blank line, images left out (the seed's combine_queue_entries_to_text)."""
    return _call_string(_lib.load().tandem_queue_entries_to_text, _dumps(list(entries)))


# ---- callback plumbing ----------------------------------------------------------------------------------------------
#
# The C callbacks are three module-level trampolines that live as long as the process. The userdata tandem hands
# back is a small integer naming an entry of _registry; the entry is removed when tandem calls userdata_free, which
# it does exactly once per subscription or tool. So no ctypes object can be collected while tandem may call it.

_registry: Dict[int, Any] = {}
_registry_lock = threading.Lock()
_tokens = itertools.count(1)
_in_callback = threading.local()


def _register(obj: Any) -> int:
    with _registry_lock:
        token = next(_tokens)
        _registry[token] = obj
        return token


def _lookup(token: Optional[int]) -> Any:
    with _registry_lock:
        return _registry.get(token or 0)


def _py_userdata_free(userdata: Optional[int]) -> None:
    with _registry_lock:
        obj = _registry.pop(userdata or 0, None)
    released = getattr(obj, "_released", None)
    if released is not None:
        released()


def _py_event_trampoline(userdata: Optional[int], event: Any) -> None:
    sub = _lookup(userdata)
    if sub is None:
        return
    _in_callback.active = True
    try:
        sub._dispatch(event.contents)
    except BaseException:  # noqa: BLE001 - nothing may unwind into C (_dispatch reports its own errors)
        pass
    finally:
        _in_callback.active = False


def _py_tool_trampoline(userdata: Optional[int], call: Optional[int], invocation: Any) -> None:
    tool = _lookup(userdata)
    inv = invocation.contents
    handle = ToolCall(
        call or 0,
        session_id=(inv.session_id or b"").decode("utf-8"),
        tool_call_id=(inv.tool_call_id or b"").decode("utf-8"),
        name=(inv.name or b"").decode("utf-8"),
        args=json.loads(inv.args_json or b"{}"),
    )
    if tool is None:
        handle.complete("tool is gone", is_error=True)
        return
    _in_callback.active = True
    try:
        result = tool.handler(handle)
        if result is not None:
            handle.complete(result)
    except BaseException as exc:  # noqa: BLE001 - a failing tool is an error result the model sees
        if not handle.completed:
            handle.complete(f"{type(exc).__name__}: {exc}", is_error=True)
    finally:
        _in_callback.active = False


def _py_provider_trampoline(userdata: Optional[int], request: Any) -> None:
    provider = _lookup(userdata)
    client = provider.client() if provider is not None else None
    req = request.contents
    if client is None:
        return  # the client is being freed: its requests end with it
    handle = ProviderRequest(
        client,
        (req.session_id or b"").decode("utf-8"),
        int(req.request_id),
        json.loads(req.request_json or b"{}"),
    )
    _in_callback.active = True
    try:
        provider.handler(handle)
    except BaseException as exc:  # noqa: BLE001 - a failing handler fails the model call, not the process
        try:
            handle.error(f"{type(exc).__name__}: {exc}")
        except TandemError:
            pass  # the request had already ended
    finally:
        _in_callback.active = False


class _Hook:
    def __init__(self, handler: HookHandler) -> None:
        self.handler = handler


def _py_hook_trampoline(userdata: Optional[int], input_json: Optional[bytes], reply: Optional[int]) -> None:
    hook = _lookup(userdata)
    if hook is None:
        return
    _in_callback.active = True
    try:
        answer = hook.handler(json.loads(input_json or b"{}"))
        if answer is not None:
            _lib.load().tandem_hook_reply_set(reply, _dumps(dict(answer)))
    except BaseException as exc:  # noqa: BLE001 - a failing hook takes its on_failure default, never unwinds into C
        _lib.load().tandem_hook_reply_set(reply, _dumps({"error": f"{type(exc).__name__}: {exc}"}))
    finally:
        _in_callback.active = False


# The C function pointers handed to tandem (module globals: they must outlive every subscription and tool).
_userdata_free = _lib.USERDATA_FREE(_py_userdata_free)
_event_trampoline = _lib.EVENT_CALLBACK(_py_event_trampoline)
_tool_trampoline = _lib.TOOL_CALLBACK(_py_tool_trampoline)
_provider_trampoline = _lib.PROVIDER_CALLBACK(_py_provider_trampoline)
_hook_trampoline = _lib.HOOK_CALLBACK(_py_hook_trampoline)


def in_callback() -> bool:
    """Whether the calling thread is running a tandem callback right now."""
    return bool(getattr(_in_callback, "active", False))


# ---- host tools -----------------------------------------------------------------------------------------------------


class ToolCall:
    """One call of a host tool (see :meth:`Client.register_tool`). Complete it exactly once, from any thread."""

    def __init__(self, handle: int, *, session_id: str, tool_call_id: str, name: str, args: JSON) -> None:
        self._handle = handle
        self.session_id = session_id
        self.tool_call_id = tool_call_id
        self.name = name
        self.args = args
        self.completed = False

    def complete(self, result: str, *, is_error: bool = False) -> None:
        """Answers the call (``tandem_tool_call_complete``); ``is_error`` marks ``result`` as an error message."""
        _check(_lib.load().tandem_tool_call_complete(self._handle, _encode(result, "result"), is_error))
        self.completed = True

    @property
    def cancelled(self) -> bool:
        """Whether the call was cancelled (turn aborted, session stopped); it must still be completed."""
        return bool(_lib.load().tandem_tool_call_is_cancelled(self._handle))


class _Tool:
    def __init__(self, handler: ToolHandler) -> None:
        self.handler = handler


# ---- host provider --------------------------------------------------------------------------------------------------


class ProviderRequest:
    """One model call for the host provider (see :meth:`Client.set_provider`). ``request`` is the decoded request:
    ``{"model", "thinking_level", "system_prompt", "messages", "tools", ...}``. Answer with events from any thread
    and end it with :meth:`done` or :meth:`error`."""

    def __init__(self, client: "Client", session_id: str, request_id: int, request: Dict[str, Any]) -> None:
        self.client = client
        self.session_id = session_id
        self.request_id = request_id
        self.request = request

    def emit(self, event: Mapping[str, Any]) -> None:
        """Sends one event (``tandem_provider_emit``), e.g. ``{"type": "text_delta", "text": "Hi"}``."""
        self.client.provider_emit(self.session_id, self.request_id, event)

    def text(self, text: str) -> None:
        """Streams answer text."""
        self.emit({"type": "text_delta", "text": text})

    def thinking(self, text: str) -> None:
        """Streams thinking text."""
        self.emit({"type": "thinking_delta", "text": text})

    def tool_call(self, call_id: str, name: str, args: Optional[Mapping[str, Any]] = None) -> None:
        """Asks tandem to run tool ``name`` (after :meth:`done`); its result comes in the next request."""
        self.emit({"type": "tool_call", "id": call_id, "name": name, "args": dict(args or {})})

    def usage(self, **tokens: float) -> None:
        """Reports usage: ``input``, ``output``, ``cache_read``, ``cache_write`` (tokens) and ``cost`` (USD)."""
        self.emit({"type": "usage", **tokens})

    def done(self, stop_reason: Optional[str] = None) -> None:
        """Ends the request (``stop_reason="max_tokens"`` marks a cut answer)."""
        event: Dict[str, Any] = {"type": "done"}
        if stop_reason is not None:
            event["stop_reason"] = stop_reason
        self.emit(event)

    def error(self, message: str, *, retryable: bool = False) -> None:
        """Ends the request with an error; retryable ones are retried with a new request."""
        self.emit({"type": "error", "message": message, "retryable": retryable})

    @property
    def cancelled(self) -> bool:
        """Whether the request no longer takes events (ended, turn aborted, session stopped)."""
        return self.client.provider_request_is_cancelled(self.request_id)


class _Provider:
    def __init__(self, client: "Client", handler: ProviderHandler) -> None:
        self.client = weakref.ref(client)
        self.handler = handler


# ---- subscriptions --------------------------------------------------------------------------------------------------


def _log_callback_error(exc: BaseException, event: Event) -> None:
    """The default ``on_error`` hook: logs the exception with its traceback on the ``"tandem"`` logger."""
    logger.error(
        "an event callback raised %s on %s event %d of session %s; the subscription goes on",
        type(exc).__name__, event.kind or "?", event.seq, event.session_id,
        exc_info=(type(exc), exc, exc.__traceback__),
    )


def _c_event_stub(c_event: Any) -> Event:
    """An :class:`Event` with the envelope of a C event whose JSON could not be parsed (for error reports)."""
    session = c_event.session_id
    kind = ""
    try:
        kind = EventKind(int(c_event.kind)).label
    except ValueError:
        pass
    return Event(
        seq=int(c_event.seq), session_id=session.decode("utf-8", "replace") if session else None, kind=kind, raw={}
    )


class Subscription:
    """A callback subscription (:meth:`Client.subscribe`). Close it (or use ``with``) to stop the callback.

    An exception raised by the callback stays with this subscription: it never surfaces in other calls (not in
    :meth:`close`, not in calls on the client). It is reported once to ``on_error(exception, event)`` (default: logged
    with its traceback on the ``"tandem"`` logger), and the subscription is **kept**: the callback still gets every
    later event. Reporting is bounded: the first ``max_reported_errors`` exceptions are reported, later ones are only
    counted in :attr:`error_count` (one warning on the ``"tandem"`` logger says so when it starts). An exception raised
    by ``on_error`` itself is logged, counted the same way, and goes no further.
    """

    def __init__(
        self,
        client: "Client",
        callback: EventCallback,
        on_error: Optional[ErrorHook] = None,
        max_reported_errors: Optional[int] = MAX_REPORTED_ERRORS,
    ) -> None:
        if max_reported_errors is not None and max_reported_errors < 0:
            raise ValueError("max_reported_errors must not be negative")
        self._client = client
        self._callback = callback
        self._on_error: ErrorHook = on_error if on_error is not None else _log_callback_error
        self._max_reported = max_reported_errors
        self.id: Optional[int] = None
        self.error_count = 0
        """How many exceptions the callback raised (reported or not)."""
        self._done = threading.Event()

    def _dispatch(self, c_event: Any) -> None:
        """Parses and delivers one C event; every exception ends here (runs on the dispatcher thread)."""
        event: Optional[Event] = None
        try:
            event = parse_event(c_event.json)
            self._deliver(event)
        except BaseException as exc:  # noqa: BLE001 - reported to this subscription's hook, nowhere else
            self._failed(exc, event if event is not None else _c_event_stub(c_event))

    def _deliver(self, event: Event) -> None:
        self._callback(event)

    def _failed(self, exc: BaseException, event: Event) -> None:
        self.error_count += 1
        limit = self._max_reported
        if limit is not None and self.error_count > limit:
            if self.error_count == limit + 1:
                logger.warning(
                    "subscription %s: %d callback exceptions reported; later ones are counted in "
                    "Subscription.error_count, not reported", self.id, limit,
                )
            return
        try:
            self._on_error(exc, event)
        except BaseException:  # noqa: BLE001 - a failing hook must not escape either
            logger.exception("the on_error hook of subscription %s raised", self.id)

    def _released(self) -> None:
        self._done.set()

    @property
    def active(self) -> bool:
        """Whether tandem may still call the callback."""
        return self.id is not None and not self._done.is_set()

    def close(self) -> None:
        """Unsubscribes (``tandem_client_unsubscribe``): afterwards the callback is not running and never runs
        again. Idempotent. Not from this subscription's own callback (:class:`ReentrantCallError`)."""
        handle = self._client._handle
        if self.id is not None and handle is not None and not self._done.is_set():
            try:
                _check(_lib.load().tandem_client_unsubscribe(handle, self.id))
            except (NotFoundError, ShuttingDownError):
                pass  # already ended (client shut down)

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _AsyncQueueSubscription(Subscription):
    """Feeds events into an asyncio queue from the dispatcher thread, without ever blocking either side.

    Handing an event over is one ``call_soon_threadsafe``: it never waits for the consumer, so a slow or failing
    consumer (or a stopped or closed loop) holds up neither the dispatcher nor any other subscription. ``None`` in
    the queue marks the end: after the filtered session's ``session_stopped``, or when the subscription ends."""

    def __init__(
        self,
        client: "Client",
        loop: asyncio.AbstractEventLoop,
        queue: "asyncio.Queue[Optional[Event]]",
        session_id: Optional[str],
    ) -> None:
        super().__init__(client, self._push)
        self._loop = loop
        self._queue = queue
        self._session_id = session_id

    def _post(self, item: Optional[Event]) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:
            pass  # the loop is closed: nobody is listening any more

    def _push(self, event: Event) -> None:
        self._post(event)
        if self._session_id is not None and isinstance(event, SessionStopped) and event.session_id == self._session_id:
            self._post(None)

    def _released(self) -> None:
        super()._released()
        self._post(None)


class EventStream:
    """Events delivered to an asyncio event loop (:meth:`Client.aevents`): an async iterator and async context
    manager. Subscribed from creation until :meth:`close` (or leaving ``async with``, or garbage collection).

    A stream of one session ends after that session's ``session_stopped`` event (and unsubscribes then); every
    stream ends when it is closed (after the events already queued) or the client shuts down. Each stream has its
    own queue: a consumer that is slow, stops reading or fails does not delay or break any other stream."""

    def __init__(self, client: "Client", session: Union[str, "Session", None]) -> None:
        loop = asyncio.get_running_loop()
        session_id = session.id if isinstance(session, Session) else session
        self._queue: "asyncio.Queue[Optional[Event]]" = asyncio.Queue()
        self._ended = False
        self._sub = client._subscribe(_AsyncQueueSubscription(client, loop, self._queue, session_id), session)

    def __aiter__(self) -> "EventStream":
        return self

    async def __anext__(self) -> Event:
        if self._ended:
            raise StopAsyncIteration
        item = await self._queue.get()
        if item is None:
            self._ended = True
            self.close()
            raise StopAsyncIteration
        return item

    def close(self) -> None:
        """Unsubscribes; events already queued can still be read. Idempotent."""
        self._sub.close()

    async def aclose(self) -> None:
        """Same as :meth:`close` (for ``contextlib.aclosing`` and friends)."""
        self.close()

    async def __aenter__(self) -> "EventStream":
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        sub = getattr(self, "_sub", None)
        if sub is not None and sub.active and not in_callback():
            try:
                sub.close()
            except BaseException:  # noqa: BLE001 - nothing can be reported from a finalizer
                pass


# ---- the client -----------------------------------------------------------------------------------------------------


def _free_client(ptr: int) -> None:
    _lib.load().tandem_client_free(ptr)


class Client:
    """A tandem client: a runtime, its sessions and their events (``tandem_client_new``).

    ``config`` is the client configuration (keys ``store_dir``, ``fsync``, ``worker_threads``,
    ``event_queue_capacity``, ``event_history_capacity``, ``pull_events``, ``restart``, ``session_defaults``,
    ``mcp_servers``, ``remote``: ``{"url": "ws://host:port", "gateway_token_file": path}`` makes a remote client whose
    sessions run on that gateway, see docs/remote.md, "Remote clients"); ``None`` uses the defaults, which store conversations under ``$XDG_DATA_HOME/tandem``. Use it as a context
    manager, or call :meth:`close`::

        with tandem.Client({"store_dir": None}) as client:
            session = client.start_session(model="scripted:echo")
            session.send("hello")
            for event in client.events(timeout=5):
                ...
    """

    def __init__(self, config: Optional[Options] = None) -> None:
        lib = _lib.load()
        out = ctypes.c_void_p()
        _check(lib.tandem_client_new(None if config is None else _dumps(dict(config)), ctypes.byref(out)))
        assert out.value is not None
        self._handle: Optional[int] = out.value
        self._finalizer = weakref.finalize(self, _free_client, out.value)

    # -- lifetime

    def _ptr(self) -> int:
        if self._handle is None:
            raise ShuttingDownError("the client is closed")
        return self._handle

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run."""
        return self._handle is None

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stops every session, delivers queued callbacks, wakes event pullers and stops the runtime
        (``tandem_client_shutdown``). Idempotent; afterwards only :meth:`next_event` (to drain) and :meth:`close`
        are useful. Not from a callback (:class:`ReentrantCallError`)."""
        _check(_lib.load().tandem_client_shutdown(self._ptr(), _timeout_ms(timeout)))

    def close(self) -> None:
        """Shuts down and frees the client (``tandem_client_free``). Idempotent. Not from a callback
        (:class:`ReentrantCallError`)."""
        if self._handle is not None:
            if in_callback():
                raise error_for(Status.ERR_REENTRANT_CALL, "Client.close() from an event callback")
            self._finalizer()
            self._handle = None

    def __enter__(self) -> "Client":
        return self

    def __exit__(
        self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        if exc is None:
            self.close()
        else:  # do not mask the exception that is already propagating
            try:
                self.close()
            except BaseException:  # noqa: BLE001
                pass

    # -- events: pull

    def next_event(
        self, timeout: Optional[float] = None, *, session: Union[str, "Session", None] = None
    ) -> Optional[Event]:
        """Waits up to ``timeout`` seconds (``None``: indefinitely) for the next event of the pull queue
        (``tandem_client_next_event``). Returns ``None`` on timeout; raises :class:`ShuttingDownError` once the
        client is shut down and the queue is drained. Each event goes to one of the threads that wait.

        With ``session``, takes the oldest event of that session only (``tandem_client_next_session_event``):
        other sessions' events stay queued, in order, for other pullers and unfiltered calls. Raises
        :class:`NotFoundError` once that session's stream has ended (its ``session_stopped`` was pulled) or never
        began in this client."""
        if session is None:
            fn: Any = _lib.load().tandem_client_next_event
            args: Sequence[Any] = (self._ptr(),)
        else:
            session_id = session.id if isinstance(session, Session) else session
            fn = _lib.load().tandem_client_next_session_event
            args = (self._ptr(), _encode(session_id, "session"))
        try:
            text = _call_string(fn, *args, _timeout_ms(timeout))
        except TandemTimeoutError:
            return None
        return parse_event(text)

    def next_events(self, max: int = 64) -> List[Event]:
        """Takes up to ``max`` queued events without waiting (``tandem_client_next_events``): one library call per
        batch, possibly ``[]``. Emptying the queue resets :meth:`ready_fd`. Raises :class:`InvalidArgumentError`
        for ``max`` below 1 and :class:`ShuttingDownError` once the client is shut down and the queue is
        drained."""
        count = min(max, 0xFFFFFFFF) if max >= 1 else 0  # 0: the library answers INVALID_ARGUMENT
        text = _call_string(_lib.load().tandem_client_next_events, self._ptr(), count)
        return [event_from_dict(item) for item in json.loads(text)]

    def ready_fd(self) -> int:
        """The client's readiness file descriptor (``tandem_client_ready_fd``), for ``selectors``, ``select`` or
        ``asyncio``'s ``loop.add_reader``: readable while events are queued for pulling, reset by the pulls that
        empty the queue (so drain with :meth:`next_events` until it returns ``[]``), readable for good after
        shutdown. The client owns it and closes it when freed: only wait on it, never read, write or close it."""
        fd = ctypes.c_int(-1)
        _check(_lib.load().tandem_client_ready_fd(self._ptr(), ctypes.byref(fd)))
        return fd.value

    def events(
        self, timeout: Optional[float] = None, *, session: Union[str, "Session", None] = None
    ) -> Iterator[Event]:
        """Iterates over pulled events until none arrives within ``timeout`` seconds (``None``: until the client
        shuts down). Break out of the loop when you have what you need::

            for event in client.events(timeout=5):
                if isinstance(event, tandem.TurnEnded):
                    break

        With ``session``, only that session's events (see :meth:`next_event`); the iteration ends after its
        ``session_stopped`` event, and other sessions' events stay queued for other pullers."""
        session_id = session.id if isinstance(session, Session) else session
        while True:
            try:
                event = self.next_event(timeout, session=session_id)
            except ShuttingDownError:
                return
            except NotFoundError:
                if session_id is None:
                    raise
                return  # the session's stream ended (its session_stopped went to another puller)
            if event is None:
                return
            yield event
            if session_id is not None and isinstance(event, SessionStopped):
                return

    # -- events: push

    def subscribe(
        self,
        callback: EventCallback,
        session: Union[str, "Session", None] = None,
        *,
        on_error: Optional[ErrorHook] = None,
        max_reported_errors: Optional[int] = MAX_REPORTED_ERRORS,
    ) -> Subscription:
        """Calls ``callback(event)`` on tandem's dispatcher thread for every event (or only ``session``'s, plus
        client-level events) until the returned :class:`Subscription` is closed (``tandem_client_subscribe``).

        The callback may call any client or session method except closing, shutting down or unsubscribing itself.
        An exception it raises never surfaces in other calls: it is reported once to ``on_error(exception, event)``
        on the dispatcher thread (default ``None``: logged with its traceback on the ``"tandem"`` logger) and the
        subscription is kept, so the callback gets the following events. Only the first ``max_reported_errors``
        exceptions (``None``: all) are reported; later ones are counted in :attr:`Subscription.error_count`.
        The callback runs on the one dispatcher thread every subscription of the client shares, so keep it short:
        a slow callback delays the others (use :meth:`aevents` or hand work to another thread)."""
        return self._subscribe(Subscription(self, callback, on_error, max_reported_errors), session)

    def _subscribe(self, sub: Subscription, session: Union[str, "Session", None]) -> Subscription:
        session_id = session.id if isinstance(session, Session) else session
        token = _register(sub)
        out = ctypes.c_uint64()
        try:
            _check(
                _lib.load().tandem_client_subscribe(
                    self._ptr(), _encode_opt(session_id, "session"), _event_trampoline, token, _userdata_free,
                    ctypes.byref(out),
                )
            )
        except BaseException:
            with _registry_lock:
                _registry.pop(token, None)
            raise
        sub.id = out.value
        return sub

    def aevents(self, session: Union[str, "Session", None] = None) -> "EventStream":
        """An async iterator over the events (of ``session``, or all) published from this call on; call it inside
        a coroutine. It never blocks the event loop: a subscription hands each event to the loop with
        ``call_soon_threadsafe``. A session's stream ends after its ``session_stopped``; streams are independent, so
        a slow or failing consumer of one never delays another. Use it with ``async with`` so it unsubscribes when
        you leave::

            async with client.aevents(session) as events:
                session.send("hello")
                async for event in events:
                    if isinstance(event, tandem.TurnEnded):
                        break
        """
        return EventStream(self, session)

    # -- sessions

    def listen(self, options: Optional[Options] = None, **kwargs: Any) -> str:
        """Serves this client's sessions over WebSocket (``tandem_client_listen``; protocol in docs/remote.md) and
        returns the URL to connect to, e.g. ``"ws://127.0.0.1:40123"``. Options as a mapping and/or keywords:
        ``address`` (default ``"127.0.0.1:0"``), ``tls`` ``{"cert_file", "key_file"}``, ``insecure``,
        ``gateway_token_file``, ``gateway_token_env``, ``max_message_bytes``, ``max_queued_events``,
        ``max_queued_bytes``, ``max_connections``, ``auth_failures_per_minute``, ``ping_interval_ms``,
        ``token_max_age_s``. :class:`AlreadyExistsError` while it listens; :class:`InvalidArgumentError` for plain ws off loopback without
        ``insecure=True``."""
        merged = {**(options or {}), **kwargs}
        return _call_string(_lib.load().tandem_client_listen, self._ptr(), _dumps(merged))

    def stop_listening(self) -> None:
        """Stops the remote gateway and disconnects its peers (``tandem_client_stop_listening``); sessions keep
        running. Does nothing when not listening."""
        _check(_lib.load().tandem_client_stop_listening(self._ptr()))

    def start_session(self, options: Optional[Options] = None, **kwargs: Any) -> "Session":
        """Starts a session (``tandem_session_start``). Options come as a mapping and/or keywords: ``model``
        (``"provider:model"``, default ``"scripted:echo"``), ``workdir``, ``session_id``, ``approval``, ``script``,
        ``restart``, ... (all of them in docs/options.md). :class:`AlreadyExistsError` when ``session_id`` is taken."""
        merged = {**(options or {}), **kwargs}
        session_id = _call_string(_lib.load().tandem_session_start, self._ptr(), _dumps(merged))
        return Session(self, session_id)

    def start_or_get_session(self, session_id: str, options: Optional[Options] = None, **kwargs: Any) -> "Session":
        """The live session ``session_id``, or a new one started with ``options`` (``tandem_session_start_or_get``)."""
        merged = {**(options or {}), **kwargs}
        sid = _call_string(
            _lib.load().tandem_session_start_or_get, self._ptr(), _encode(session_id, "session_id"), _dumps(merged)
        )
        return Session(self, sid)

    def session(self, session_id: str) -> "Session":
        """A :class:`Session` object for an existing ID (no call is made; a stale ID fails on use)."""
        return Session(self, session_id)

    def sessions(self) -> List[Dict[str, Any]]:
        """Metadata of every live session, in start order (``tandem_session_list``)."""
        result: List[Dict[str, Any]] = _call_json(_lib.load().tandem_session_list, self._ptr())
        return result

    def start_subagent(
        self, task: str, options: Optional[Options] = None, *, parent: Union[str, "Session", None] = None
    ) -> Dict[str, Any]:
        """Starts a background sub-agent that works on ``task`` (``tandem_subagent_start``); returns its handle
        ``{session_id, parent_session_id, task, model, started_at, detached}``. A sub-agent of ``parent`` takes the
        parent's provider, model, thinking level, skills, workdir and tool settings unless ``options`` name them,
        stops with its parent unless ``options`` has ``"detached": True``, and reports each answer to the parent
        as a :class:`SubagentFinished` event (and a note in the parent's transcript)."""
        parent_id = parent.id if isinstance(parent, Session) else parent
        result: Dict[str, Any] = _call_json(
            _lib.load().tandem_subagent_start, self._ptr(), _encode_opt(parent_id, "parent"), _encode(task, "task"),
            _dumps(dict(options or {})),
        )
        return result

    def subagents(self, parent: Union[str, "Session", None] = None) -> List[Dict[str, Any]]:
        """Sub-agent handles, oldest first: all, or those of ``parent`` (``tandem_subagent_list``)."""
        parent_id = parent.id if isinstance(parent, Session) else parent
        result: List[Dict[str, Any]] = _call_json(
            _lib.load().tandem_subagent_list, self._ptr(), _encode_opt(parent_id, "parent")
        )
        return result

    # -- conversations

    def conversations(self) -> List[Dict[str, Any]]:
        """Stored conversations, newest first (``tandem_conversation_list``); ``[]`` without a store."""
        result: List[Dict[str, Any]] = _call_json(_lib.load().tandem_conversation_list, self._ptr())
        return result

    def delete_conversation(self, conversation_id: str) -> None:
        """Deletes a stored conversation (``tandem_conversation_delete``); :class:`BusyError` while it is open."""
        _check(_lib.load().tandem_conversation_delete(self._ptr(), _encode(conversation_id, "conversation_id")))

    # -- host tools

    def register_tool(
        self,
        name: str,
        handler: ToolHandler,
        description: str,
        *,
        parameters: Optional[Mapping[str, Any]] = None,
        destructive: bool = False,
    ) -> None:
        """Registers a tool the host implements (``tandem_client_register_tool``), described to the model by
        ``description`` (required, non-empty).

        ``handler(call)`` runs on a tandem-owned thread (several at once are possible). Returning a string
        completes the call with it; raising completes it as an error with the exception's text; returning ``None``
        leaves the call open for the host to finish later with ``call.complete(...)`` from any thread.
        ``parameters`` is a JSON Schema object (default: no arguments)."""
        spec = {
            "name": name,
            "description": description,
            "parameters": dict(parameters) if parameters is not None else {"type": "object", "properties": {}},
            "destructive": destructive,
        }
        tool = _Tool(handler)
        token = _register(tool)
        status = _lib.load().tandem_client_register_tool(
            self._ptr(), _dumps(spec), _tool_trampoline, token, _userdata_free
        )
        if status != 0:
            message = last_error_message()
            with _registry_lock:  # tandem may or may not have called userdata_free; either way it is ours now
                _registry.pop(token, None)
            raise error_for(status, message)

    def set_provider(self, handler: Optional[ProviderHandler]) -> None:
        """Registers the host provider (``tandem_client_set_provider``), replacing any previous one; ``None``
        unregisters. Sessions started with ``provider="host"`` (models ``"host:<name>"``) call ``handler(request)``
        on a tandem-owned thread for each model call; answer through the :class:`ProviderRequest`, before
        returning or later from any thread. tandem runs the tool calls the handler asks for. An exception in the
        handler ends the request with an error."""
        if handler is None:
            _check(_lib.load().tandem_client_set_provider(self._ptr(), _lib.PROVIDER_CALLBACK(), None, _userdata_free))
            return
        token = _register(_Provider(self, handler))
        status = _lib.load().tandem_client_set_provider(self._ptr(), _provider_trampoline, token, _userdata_free)
        if status != 0:
            message = last_error_message()
            with _registry_lock:
                _registry.pop(token, None)
            raise error_for(status, message)

    def provider_emit(self, session_id: str, request_id: int, event: Mapping[str, Any]) -> None:
        """Sends one host provider event for request ``request_id`` of session ``session_id``
        (``tandem_provider_emit``, with ``request_id`` put into the event). :class:`NotFoundError` once the request
        ended or was aborted."""
        tagged = {"request_id": request_id, **dict(event)}
        _check(
            _lib.load().tandem_provider_emit(self._ptr(), _encode(session_id, "session id"), _dumps(tagged))
        )

    def provider_request_is_cancelled(self, request_id: int) -> bool:
        """Whether host provider request ``request_id`` no longer takes events
        (``tandem_provider_request_is_cancelled``)."""
        if self._handle is None:
            return True
        return bool(_lib.load().tandem_provider_request_is_cancelled(self._handle, request_id))

    def unregister_tool(self, name: str) -> None:
        """Unregisters host tool ``name`` (``tandem_client_unregister_tool``); running calls finish."""
        _check(_lib.load().tandem_client_unregister_tool(self._ptr(), _encode(name, "name")))

    # -- hooks

    def add_hook(
        self,
        event: str,
        handler: HookHandler,
        *,
        session: Union[str, "Session", None] = None,
        matcher: Optional[str] = None,
        timeout_ms: Optional[int] = None,
        on_failure: str = "continue",
    ) -> int:
        """Adds a hook (``tandem_client_add_hook``) for every session, or for ``session`` only (removed when it
        stops); returns its ID for :meth:`remove_hook`.

        ``event`` is ``"PreToolUse"``, ``"PostToolUse"``, ``"UserPromptSubmit"``, ``"Stop"``, ``"SessionStart"``
        or ``"PreCompact"``; ``matcher`` a regex over the tool name (tandem's or Claude Code's, e.g.
        ``"Write|Edit"``). ``handler(input)`` runs on a tandem-owned thread with the hook input (docs/hooks.md) and
        returns the answer, e.g. ``{"decision": "deny", "reason": "..."}``, ``{"tool_input": {...}}``,
        ``{"additional_context": "..."}``, or ``None`` to let the step go on. An exception, or no answer within
        ``timeout_ms`` (default 60000), takes ``on_failure`` (``"continue"`` or ``"deny"``)."""
        session_id = session.id if isinstance(session, Session) else session
        spec: Dict[str, Any] = {"event": event, "on_failure": on_failure}
        if matcher is not None:
            spec["matcher"] = matcher
        if timeout_ms is not None:
            spec["timeout_ms"] = timeout_ms
        token = _register(_Hook(handler))
        out = ctypes.c_uint64()
        try:
            _check(
                _lib.load().tandem_client_add_hook(
                    self._ptr(), _encode_opt(session_id, "session"), _dumps(spec), _hook_trampoline, token,
                    _userdata_free, ctypes.byref(out),
                )
            )
        except BaseException:
            with _registry_lock:  # tandem may or may not have called userdata_free; either way it is ours now
                _registry.pop(token, None)
            raise
        return int(out.value)

    def remove_hook(self, hook_id: int) -> None:
        """Removes a hook of the client or of any of its sessions (``tandem_client_remove_hook``); a call already
        running finishes. :class:`NotFoundError` for unknown IDs."""
        _check(_lib.load().tandem_client_remove_hook(self._ptr(), hook_id))


# ---- sessions -------------------------------------------------------------------------------------------------------


class Session:
    """A session of a :class:`Client`, addressed by its string ``id``. Every method is one C call; a session that
    stopped raises :class:`NotFoundError`. As a context manager it stops the session on exit."""

    def __init__(self, client: Client, session_id: str) -> None:
        self.client = client
        self.id = session_id
        self._bid = _encode(session_id, "session id")

    def __repr__(self) -> str:
        return f"Session({self.id!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Session) and other.client is self.client and other.id == self.id

    def __hash__(self) -> int:
        return hash((id(self.client), self.id))

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.client.closed:
            try:
                self.stop()
            except (NotFoundError, ShuttingDownError):
                pass

    def _c(self) -> int:
        return self.client._ptr()

    # -- lifecycle

    def stop(self) -> None:
        """Stops the session (a running turn is aborted); blocks until it has stopped (``tandem_session_stop``)."""
        _check(_lib.load().tandem_session_stop(self._c(), self._bid))

    def add_hook(self, event: str, handler: HookHandler, **options: Any) -> int:
        """Adds a hook for this session only, removed when it stops: :meth:`Client.add_hook` with
        ``session=self`` (same ``matcher``, ``timeout_ms`` and ``on_failure`` options)."""
        return self.client.add_hook(event, handler, session=self, **options)

    def token(self) -> str:
        """The session's token (43 characters of base64url, stable across restarts)."""
        return _call_string(_lib.load().tandem_session_token, self._c(), self._bid)

    # -- prompts and queues

    def _prompt(self, fn: Any, arg: bytes) -> PromptResult:
        out = ctypes.c_uint32()
        _check(fn(self._c(), self._bid, arg, ctypes.byref(out)))
        return PromptResult(out.value)

    def send(self, prompt: str) -> PromptResult:
        """Sends a prompt: starts a turn when idle (``SENT``), else queues it as steering (``QUEUED_STEERING``).
        Every sent prompt ends with exactly one ``turn_ended`` event (``tandem_session_send_prompt``)."""
        return self._prompt(_lib.load().tandem_session_send_prompt, _encode(prompt, "prompt"))

    def send_parts(self, parts: Sequence[Mapping[str, Any]]) -> PromptResult:
        """Like :meth:`send` with content parts: ``{"type": "text", "text": ...}`` and
        ``{"type": "image", "media_type": "image/png", "data": <base64>}``."""
        return self._prompt(_lib.load().tandem_session_send_prompt_parts, _dumps([dict(p) for p in parts]))

    def queue_steering(self, prompt: str) -> PromptResult:
        """Queues ``prompt`` as steering while a turn runs (seen after the current tool calls), else sends it."""
        return self._prompt(_lib.load().tandem_session_queue_steering, _encode(prompt, "prompt"))

    def queue_follow_up(self, prompt: str) -> PromptResult:
        """Queues ``prompt`` as a follow-up sent when the turn ends, or sends it when idle."""
        return self._prompt(_lib.load().tandem_session_queue_follow_up, _encode(prompt, "prompt"))

    def queue_follow_up_parts(self, parts: Sequence[Mapping[str, Any]]) -> PromptResult:
        """Like :meth:`queue_follow_up` with content parts (images stay with the entry)."""
        return self._prompt(_lib.load().tandem_session_queue_follow_up_parts, _dumps([dict(p) for p in parts]))

    def dequeue_steering(self) -> List[List[Dict[str, Any]]]:
        """Takes back the queued steering entries (each a list of content parts); follow-ups stay."""
        result: List[List[Dict[str, Any]]] = _call_json(
            _lib.load().tandem_session_dequeue_steering, self._c(), self._bid
        )
        return result

    def queued_messages(self) -> Dict[str, Any]:
        """The queues, unchanged: ``{"steering": [...], "follow_up": [...]}``."""
        result: Dict[str, Any] = _call_json(_lib.load().tandem_session_queued_messages, self._c(), self._bid)
        return result

    def recall_queues(self) -> Dict[str, Any]:
        """Takes back both queues: ``{"steering": [...], "follow_up": [...]}``; they are empty afterwards."""
        result: Dict[str, Any] = _call_json(_lib.load().tandem_session_recall_queues, self._c(), self._bid)
        return result

    def clear_queues(self) -> None:
        """Empties both queues."""
        _check(_lib.load().tandem_session_clear_queues(self._c(), self._bid))

    def abort(self) -> None:
        """Aborts the running turn (``turn_ended`` with reason ``aborted``); a no-op when idle."""
        _check(_lib.load().tandem_session_abort(self._c(), self._bid))

    def continue_(self) -> None:
        """Resumes a turn a stream failure or ``max_turns`` cut off (``tandem_session_continue``)."""
        _check(_lib.load().tandem_session_continue(self._c(), self._bid))

    # -- approvals and modes

    def respond_to_approval(
        self, decision: ApprovalDecision = ApprovalDecision.APPROVE, approval_id: Optional[str] = None
    ) -> None:
        """Answers the pending approval (``tandem_session_respond_to_approval``). Name it with ``approval_id``
        (from :class:`ApprovalPending`) so a late answer cannot approve another call; ``None`` answers whichever
        is pending. :class:`NoPendingApprovalError` when there is none (or it is stale)."""
        _check(
            _lib.load().tandem_session_respond_to_approval(
                self._c(), self._bid, _encode_opt(approval_id, "approval_id"), int(ApprovalDecision(decision))
            )
        )

    def approve(self, approval_id: Optional[str] = None) -> None:
        """Approves the pending call once (see :meth:`respond_to_approval`)."""
        self.respond_to_approval(ApprovalDecision.APPROVE, approval_id)

    def reject(self, approval_id: Optional[str] = None) -> None:
        """Rejects the pending call: the agent is told it was refused."""
        self.respond_to_approval(ApprovalDecision.REJECT, approval_id)

    def trusted_tools(self) -> Dict[str, str]:
        """The tools this session trusts: ``{name: "turn" | "session"}`` (``tandem_session_trusted_tools``), granted
        by :attr:`ApprovalDecision.APPROVE_TURN` and :attr:`ApprovalDecision.APPROVE_SESSION`."""
        result: Dict[str, str] = _call_json(_lib.load().tandem_session_trusted_tools, self._c(), self._bid)
        return result

    def revoke_trust(self, name: Optional[str] = None) -> None:
        """Revokes the trust of tool ``name`` (``None``: of every tool), so its next call asks again.
        :class:`NotFoundError` when that tool holds no trust."""
        _check(_lib.load().tandem_session_revoke_trust(self._c(), self._bid, _encode_opt(name, "name")))

    def enter_plan(self) -> None:
        """Plan mode: destructive tools are refused, a pending approval is cancelled."""
        _check(_lib.load().tandem_session_enter_plan(self._c(), self._bid))

    def enter_exec(self) -> None:
        """Leaves plan mode."""
        _check(_lib.load().tandem_session_enter_exec(self._c(), self._bid))

    # -- queries

    def status(self) -> SessionStatus:
        """The session's status (``tandem_session_get_status``)."""
        out = ctypes.c_uint32()
        _check(_lib.load().tandem_session_get_status(self._c(), self._bid, ctypes.byref(out)))
        return SessionStatus(out.value)

    def messages(self) -> List[Dict[str, Any]]:
        """Every message, oldest first; each has a stable ``id`` and a ``kind`` (user, assistant, thinking,
        tool_call, system, usage)."""
        result: List[Dict[str, Any]] = _call_json(_lib.load().tandem_session_messages, self._c(), self._bid)
        return result

    def message_parts(self, message_id: int) -> List[Dict[str, Any]]:
        """The content parts of user message ``message_id``, images with their base64 ``data`` (message JSON lists
        images only as ``attachments``)."""
        result: List[Dict[str, Any]] = _call_json(
            _lib.load().tandem_session_message_parts, self._c(), self._bid, message_id
        )
        return result

    def messages_page(self, before_id: int = 0, limit: int = 50) -> Dict[str, Any]:
        """Up to ``limit`` messages with IDs below ``before_id`` (0: from the newest), newest first:
        ``{"messages": [...], "has_more": bool}``."""
        result: Dict[str, Any] = _call_json(
            _lib.load().tandem_session_messages_page, self._c(), self._bid, before_id, limit
        )
        return result

    def usage(self) -> Usage:
        """Accumulated token usage and cost."""
        return Usage.from_dict(_call_json(_lib.load().tandem_session_usage, self._c(), self._bid))

    def metadata(self) -> Dict[str, Any]:
        """``{id, title, model, provider, created_at, ..., status, workdir, conversation_id, ...}``."""
        result: Dict[str, Any] = _call_json(_lib.load().tandem_session_metadata, self._c(), self._bid)
        return result

    def snapshot(self) -> Dict[str, Any]:
        """What an editor shows: ``{status, pending_approval, error, active_tool_name, sandbox, budget}``
        (``budget``: limits and running totals of this session and its sub-agents)."""
        result: Dict[str, Any] = _call_json(_lib.load().tandem_session_snapshot, self._c(), self._bid)
        return result

    def context_files(self) -> List[Dict[str, Any]]:
        """The project context files in the system prompt, lowest precedence first: ``[{path, reason, bytes,
        loaded_bytes, truncated, error?}]`` (``[]`` when there are none or ``context_files`` is off)."""
        result: List[Dict[str, Any]] = _call_json(_lib.load().tandem_session_context_files, self._c(), self._bid)
        return result

    def set_budget(self, budget: Dict[str, Any]) -> None:
        """Changes the limits of this session's tree at runtime: ``{"max_cost": usd | None, "max_tokens_total": n |
        None}`` (a key left out keeps its value, ``None`` removes the limit)."""
        _check(_lib.load().tandem_session_set_budget(self._c(), self._bid, _dumps(budget)))

    def events_since(self, seq: int = 0) -> Dict[str, Any]:
        """Replays the session's bounded history: ``{"events": [Event...], "latest_seq": n, "truncated": bool}``
        (the events are parsed into dataclasses)."""
        result: Dict[str, Any] = _call_json(_lib.load().tandem_session_events_since, self._c(), self._bid, seq)
        result["events"] = [event_from_dict(e) for e in result.get("events", [])]
        return result

    def add_system_message(self, text: str, level: MessageLevel = MessageLevel.INFO) -> None:
        """Appends a system message to the transcript."""
        _check(
            _lib.load().tandem_session_add_system_message(
                self._c(), self._bid, _encode(text, "text"), int(MessageLevel(level))
            )
        )

    # -- events

    def subscribe(
        self,
        callback: EventCallback,
        *,
        on_error: Optional[ErrorHook] = None,
        max_reported_errors: Optional[int] = MAX_REPORTED_ERRORS,
    ) -> Subscription:
        """:meth:`Client.subscribe` filtered to this session (client-level events still arrive)."""
        return self.client.subscribe(callback, self, on_error=on_error, max_reported_errors=max_reported_errors)

    def next_event(self, timeout: Optional[float] = None) -> Optional[Event]:
        """:meth:`Client.next_event` of this session only: other sessions' events stay queued for other pullers."""
        return self.client.next_event(timeout, session=self)

    def events(self, timeout: Optional[float] = None) -> Iterator[Event]:
        """:meth:`Client.events` of this session only; ends after this session's ``session_stopped``."""
        return self.client.events(timeout, session=self)

    def aevents(self) -> EventStream:
        """:meth:`Client.aevents` filtered to this session; ends after this session's ``session_stopped``."""
        return self.client.aevents(self)

    # -- conversations

    def compact(self) -> Dict[str, Any]:
        """Compacts the model context: ``{"compacted": bool, "info": str, "summary"?: str}``."""
        result: Dict[str, Any] = _call_json(_lib.load().tandem_session_compact, self._c(), self._bid)
        return result

    def summarize(self) -> Dict[str, Any]:
        """Writes a Markdown summary under the workdir's ``.tandem/context/``: ``{"text", "path"}``."""
        result: Dict[str, Any] = _call_json(_lib.load().tandem_session_summarize, self._c(), self._bid)
        return result

    def new_conversation(self) -> None:
        """Archives the conversation and starts an empty one (same session ID and token)."""
        _check(_lib.load().tandem_session_new_conversation(self._c(), self._bid))

    def load_conversation(self, conversation_id: str) -> None:
        """Loads a stored conversation into this session."""
        _check(
            _lib.load().tandem_session_load_conversation(
                self._c(), self._bid, _encode(conversation_id, "conversation_id")
            )
        )

    # -- models, thinking, commands, skills

    def set_model(self, model: str) -> None:
        """Switches to ``model`` (``"provider:model"``)."""
        _check(_lib.load().tandem_session_set_model(self._c(), self._bid, _encode(model, "model")))

    def cycle_model(self) -> Dict[str, Any]:
        """Moves to the next model of the ``models`` option: ``{"model", "index", "total", "thinking_level"}``."""
        result: Dict[str, Any] = _call_json(_lib.load().tandem_session_cycle_model, self._c(), self._bid)
        return result

    def set_thinking_level(self, level: str) -> None:
        """Sets the thinking level: ``off``, ``low``, ``medium`` or ``high``."""
        _check(_lib.load().tandem_session_set_thinking_level(self._c(), self._bid, _encode(level, "level")))

    def cycle_thinking_level(self) -> str:
        """Moves to the next thinking level and returns it."""
        return str(_call_json(_lib.load().tandem_session_cycle_thinking_level, self._c(), self._bid)["level"])

    def available_models(self) -> List[Dict[str, Any]]:
        """``[{"model", "provider", "name", "current"}]``."""
        result: List[Dict[str, Any]] = _call_json(_lib.load().tandem_session_available_models, self._c(), self._bid)
        return result

    def commands(self) -> List[Dict[str, Any]]:
        """Slash commands a host can offer: ``[{"name", "description"}]``."""
        result: List[Dict[str, Any]] = _call_json(_lib.load().tandem_session_commands, self._c(), self._bid)
        return result

    def skills(self) -> List[Dict[str, Any]]:
        """Skills found for the session: ``[{"name", "description", "path", "active"}]``."""
        result: List[Dict[str, Any]] = _call_json(_lib.load().tandem_session_list_skills, self._c(), self._bid)
        return result

    def activate_skill(self, name: str) -> None:
        """Adds skill ``name``'s SKILL.md to the system prompt from the next model call on."""
        _check(_lib.load().tandem_session_activate_skill(self._c(), self._bid, _encode(name, "name")))

    def deactivate_skill(self, name: str) -> None:
        """Deactivates skill ``name``."""
        _check(_lib.load().tandem_session_deactivate_skill(self._c(), self._bid, _encode(name, "name")))

    # -- MCP servers

    def mcp_servers(self) -> List[Dict[str, Any]]:
        """The session's MCP servers: ``[{"name", "transport", "enabled", "state", "detail", "stderr", "tools"}]``
        (each tool ``{"name", "tool", "description", "gated"}``)."""
        result: List[Dict[str, Any]] = _call_json(_lib.load().tandem_session_mcp_servers, self._c(), self._bid)
        return result

    def set_mcp_enabled(self, name: str, enabled: bool) -> None:
        """Enables or disables MCP server ``name`` (disabling kills a stdio server's process group); the change is
        reported by an ``mcp_server_status`` event. :class:`NotFoundError` for a server the session lacks."""
        _check(_lib.load().tandem_session_mcp_set_enabled(self._c(), self._bid, _encode(name, "name"), bool(enabled)))

    # -- branches and collapses

    def branch_at(self, message_id: int) -> Dict[str, Any]:
        """Saves the transcript as a new branch and cuts it after ``message_id``:
        ``{"number", "name", "message_count"}``."""
        result: Dict[str, Any] = _call_json(_lib.load().tandem_session_branch_at, self._c(), self._bid, message_id)
        return result

    def branches(self) -> List[Dict[str, Any]]:
        """``[{"number", "name", "message_count", "created_at"}]``, numbers from 1."""
        result: List[Dict[str, Any]] = _call_json(_lib.load().tandem_session_list_branches, self._c(), self._bid)
        return result

    def switch_branch(self, number: int) -> None:
        """Replaces the transcript with branch ``number`` (1-based)."""
        _check(_lib.load().tandem_session_switch_branch(self._c(), self._bid, number))

    def toggle_tool_collapse(self, message_id: int) -> None:
        """Toggles whether a tool call or thinking message is collapsed."""
        _check(_lib.load().tandem_session_toggle_tool_collapse(self._c(), self._bid, message_id))

    def toggle_all_tool_collapses(self) -> None:
        """Expands everything if anything is collapsed, else collapses everything."""
        _check(_lib.load().tandem_session_toggle_all_tool_collapses(self._c(), self._bid))

    # -- edit boundaries and touched files

    def set_boundary(self, path: str, start_line: int, end_line: int) -> None:
        """Limits edits of ``path`` to lines ``start_line..=end_line`` (0-based, inclusive)."""
        _check(
            _lib.load().tandem_session_set_boundary(self._c(), self._bid, _encode(path, "path"), start_line, end_line)
        )

    def clear_boundary(self, path: str) -> None:
        """Removes the boundary of ``path``."""
        _check(_lib.load().tandem_session_clear_boundary(self._c(), self._bid, _encode(path, "path")))

    def clear_all_boundaries(self) -> None:
        """Removes every boundary."""
        _check(_lib.load().tandem_session_clear_all_boundaries(self._c(), self._bid))

    def boundary_for(self, path: str) -> Optional[Dict[str, int]]:
        """The boundary of ``path`` (``{"start_line", "end_line"}``) or ``None``."""
        result: Optional[Dict[str, int]] = _call_json(
            _lib.load().tandem_session_boundary_for, self._c(), self._bid, _encode(path, "path")
        )
        return result

    def touched_files(self) -> List[Dict[str, Any]]:
        """Files the session's tools changed, newest first: ``[{"path", "action", "timestamp_ms"}]``."""
        result: List[Dict[str, Any]] = _call_json(_lib.load().tandem_session_touched_files, self._c(), self._bid)
        return result


__all__ = [
    "Client",
    "ErrorHook",
    "MAX_REPORTED_ERRORS",
    "ProviderRequest",
    "Session",
    "Subscription",
    "EventStream",
    "ToolCall",
    "TandemError",
    "in_callback",
    "last_error_message",
    "status_name",
    "version",
    "workdir_session_id",
    "queue_entries_to_text",
]
