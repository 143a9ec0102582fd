"""Finding and loading libtandem, and the ctypes prototypes of every C function (private).

The library is looked up, in order, at the path in the ``TANDEM_LIBRARY`` environment variable, next to this
package (where a wheel bundles it), and through the system's dynamic loader (``ldconfig``, ``LD_LIBRARY_PATH``).
It is loaded on first use, so ``import tandem`` works without it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

LIBRARY_ENV = "TANDEM_LIBRARY"


class LibraryNotFoundError(OSError):
    """libtandem could not be found or loaded; the message lists every place that was tried."""


def _library_names() -> List[str]:
    if sys.platform == "darwin":
        return ["libtandem.dylib"]
    if sys.platform == "win32":
        return ["tandem.dll"]
    # The SONAME of the ABI this binding was written for (0.x minors may break it), for systems that install only
    # the runtime name.
    return ["libtandem.so", "libtandem.so.0.1"]


# ---- C structs and callback types ------------------------------------------------------------------------------


class CEvent(ctypes.Structure):
    """``tandem_event``: borrowed for the duration of a callback."""

    _fields_ = [
        ("seq", ctypes.c_uint64),
        ("kind", ctypes.c_uint32),
        ("session_id", ctypes.c_char_p),
        ("json", ctypes.c_char_p),
    ]


class CToolInvocation(ctypes.Structure):
    """``tandem_tool_invocation``: borrowed for the duration of a tool callback."""

    _fields_ = [
        ("session_id", ctypes.c_char_p),
        ("tool_call_id", ctypes.c_char_p),
        ("name", ctypes.c_char_p),
        ("args_json", ctypes.c_char_p),
    ]


class CProviderRequest(ctypes.Structure):
    """``tandem_provider_request``: borrowed for the duration of a host provider callback."""

    _fields_ = [
        ("session_id", ctypes.c_char_p),
        ("request_id", ctypes.c_uint64),
        ("request_json", ctypes.c_char_p),
    ]


EVENT_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(CEvent))
USERDATA_FREE = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
TOOL_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(CToolInvocation))
PROVIDER_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(CProviderRequest))
HOOK_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p)

# ---- prototypes ------------------------------------------------------------------------------------------------

_status = ctypes.c_uint32
_client = ctypes.c_void_p
_str = ctypes.c_char_p
_out_str = ctypes.POINTER(ctypes.c_void_p)  # char **: read as a raw pointer, so it can be freed
_u32 = ctypes.c_uint32
_u64 = ctypes.c_uint64
_out_u32 = ctypes.POINTER(ctypes.c_uint32)

#: Every function of include/tandem.h: name -> (return type, argument types). A test checks this table against
#: the header, so a function added there without a binding fails the suite.
PROTOTYPES: Dict[str, Tuple[Any, Sequence[Any]]] = {
    # library
    "tandem_version": (ctypes.c_char_p, ()),
    "tandem_status_name": (ctypes.c_char_p, (_status,)),
    "tandem_last_error_message": (ctypes.c_char_p, ()),
    "tandem_string_free": (None, (ctypes.c_void_p,)),
    "tandem_workdir_session_id": (_status, (_str, _out_str)),
    "tandem_queue_entries_to_text": (_status, (_str, _out_str)),
    # client
    "tandem_client_new": (_status, (_str, ctypes.POINTER(ctypes.c_void_p))),
    "tandem_client_shutdown": (_status, (_client, _u32)),
    "tandem_client_free": (None, (_client,)),
    "tandem_client_listen": (_status, (_client, _str, _out_str)),
    "tandem_client_stop_listening": (_status, (_client,)),
    "tandem_client_next_event": (_status, (_client, _u32, _out_str)),
    "tandem_client_next_session_event": (_status, (_client, _str, _u32, _out_str)),
    "tandem_client_next_events": (_status, (_client, _u32, _out_str)),
    "tandem_client_ready_fd": (_status, (_client, ctypes.POINTER(ctypes.c_int))),
    "tandem_client_subscribe": (
        _status,
        (_client, _str, EVENT_CALLBACK, ctypes.c_void_p, USERDATA_FREE, ctypes.POINTER(ctypes.c_uint64)),
    ),
    "tandem_client_unsubscribe": (_status, (_client, _u64)),
    "tandem_client_register_tool": (_status, (_client, _str, TOOL_CALLBACK, ctypes.c_void_p, USERDATA_FREE)),
    "tandem_client_unregister_tool": (_status, (_client, _str)),
    "tandem_tool_call_complete": (_status, (ctypes.c_void_p, _str, ctypes.c_bool)),
    "tandem_tool_call_is_cancelled": (ctypes.c_bool, (ctypes.c_void_p,)),
    "tandem_client_set_provider": (_status, (_client, PROVIDER_CALLBACK, ctypes.c_void_p, USERDATA_FREE)),
    "tandem_provider_emit": (_status, (_client, _str, _str)),
    "tandem_provider_request_is_cancelled": (ctypes.c_bool, (_client, _u64)),
    "tandem_client_add_hook": (
        _status,
        (_client, _str, _str, HOOK_CALLBACK, ctypes.c_void_p, USERDATA_FREE, ctypes.POINTER(ctypes.c_uint64)),
    ),
    "tandem_client_remove_hook": (_status, (_client, _u64)),
    "tandem_hook_reply_set": (_status, (ctypes.c_void_p, _str)),
    "tandem_conversation_list": (_status, (_client, _out_str)),
    "tandem_conversation_delete": (_status, (_client, _str)),
    "tandem_subagent_start": (_status, (_client, _str, _str, _str, _out_str)),
    "tandem_subagent_list": (_status, (_client, _str, _out_str)),
    # session lifecycle
    "tandem_session_start": (_status, (_client, _str, _out_str)),
    "tandem_session_start_or_get": (_status, (_client, _str, _str, _out_str)),
    "tandem_session_stop": (_status, (_client, _str)),
    "tandem_session_list": (_status, (_client, _out_str)),
    "tandem_session_token": (_status, (_client, _str, _out_str)),
    # prompts and queues
    "tandem_session_send_prompt": (_status, (_client, _str, _str, _out_u32)),
    "tandem_session_send_prompt_parts": (_status, (_client, _str, _str, _out_u32)),
    "tandem_session_queue_steering": (_status, (_client, _str, _str, _out_u32)),
    "tandem_session_queue_follow_up": (_status, (_client, _str, _str, _out_u32)),
    "tandem_session_queue_follow_up_parts": (_status, (_client, _str, _str, _out_u32)),
    "tandem_session_dequeue_steering": (_status, (_client, _str, _out_str)),
    "tandem_session_queued_messages": (_status, (_client, _str, _out_str)),
    "tandem_session_recall_queues": (_status, (_client, _str, _out_str)),
    "tandem_session_clear_queues": (_status, (_client, _str)),
    "tandem_session_abort": (_status, (_client, _str)),
    "tandem_session_continue": (_status, (_client, _str)),
    # approvals and modes
    "tandem_session_respond_to_approval": (_status, (_client, _str, _str, _u32)),
    "tandem_session_trusted_tools": (_status, (_client, _str, _out_str)),
    "tandem_session_revoke_trust": (_status, (_client, _str, _str)),
    "tandem_session_enter_plan": (_status, (_client, _str)),
    "tandem_session_enter_exec": (_status, (_client, _str)),
    # queries
    "tandem_session_get_status": (_status, (_client, _str, _out_u32)),
    "tandem_session_messages": (_status, (_client, _str, _out_str)),
    "tandem_session_messages_page": (_status, (_client, _str, _u64, _u32, _out_str)),
    "tandem_session_message_parts": (_status, (_client, _str, _u64, _out_str)),
    "tandem_session_usage": (_status, (_client, _str, _out_str)),
    "tandem_session_metadata": (_status, (_client, _str, _out_str)),
    "tandem_session_snapshot": (_status, (_client, _str, _out_str)),
    "tandem_session_context_files": (_status, (_client, _str, _out_str)),
    "tandem_session_set_budget": (_status, (_client, _str, _str)),
    "tandem_session_events_since": (_status, (_client, _str, _u64, _out_str)),
    "tandem_session_add_system_message": (_status, (_client, _str, _str, _u32)),
    # conversations
    "tandem_session_compact": (_status, (_client, _str, _out_str)),
    "tandem_session_summarize": (_status, (_client, _str, _out_str)),
    "tandem_session_new_conversation": (_status, (_client, _str)),
    "tandem_session_load_conversation": (_status, (_client, _str, _str)),
    # models, thinking, commands, skills
    "tandem_session_set_model": (_status, (_client, _str, _str)),
    "tandem_session_cycle_model": (_status, (_client, _str, _out_str)),
    "tandem_session_set_thinking_level": (_status, (_client, _str, _str)),
    "tandem_session_cycle_thinking_level": (_status, (_client, _str, _out_str)),
    "tandem_session_available_models": (_status, (_client, _str, _out_str)),
    "tandem_session_commands": (_status, (_client, _str, _out_str)),
    "tandem_session_list_skills": (_status, (_client, _str, _out_str)),
    "tandem_session_mcp_servers": (_status, (_client, _str, _out_str)),
    "tandem_session_mcp_set_enabled": (_status, (_client, _str, _str, ctypes.c_bool)),
    "tandem_session_activate_skill": (_status, (_client, _str, _str)),
    "tandem_session_deactivate_skill": (_status, (_client, _str, _str)),
    # branches, collapses, boundaries, touched files
    "tandem_session_branch_at": (_status, (_client, _str, _u64, _out_str)),
    "tandem_session_list_branches": (_status, (_client, _str, _out_str)),
    "tandem_session_switch_branch": (_status, (_client, _str, _u32)),
    "tandem_session_toggle_tool_collapse": (_status, (_client, _str, _u64)),
    "tandem_session_toggle_all_tool_collapses": (_status, (_client, _str)),
    "tandem_session_set_boundary": (_status, (_client, _str, _str, _u32, _u32)),
    "tandem_session_clear_boundary": (_status, (_client, _str, _str)),
    "tandem_session_clear_all_boundaries": (_status, (_client, _str)),
    "tandem_session_boundary_for": (_status, (_client, _str, _str, _out_str)),
    "tandem_session_touched_files": (_status, (_client, _str, _out_str)),
}

# ---- loading ---------------------------------------------------------------------------------------------------

_lock = threading.Lock()
_loaded: Optional[ctypes.CDLL] = None


def _candidates() -> List[str]:
    found: List[str] = []
    env = os.environ.get(LIBRARY_ENV)
    if env:
        found.append(env)
    here = Path(__file__).resolve().parent
    found.extend(str(here / name) for name in _library_names())
    system = ctypes.util.find_library("tandem")
    if system:
        found.append(system)
    found.extend(_library_names())  # bare names: the loader's own search (LD_LIBRARY_PATH, rpath, ld.so.cache)
    return found


def library_path() -> str:
    """The path (or loader name) libtandem was loaded from; loads it if needed."""
    return str(load()._name)


def load() -> ctypes.CDLL:
    """Loads libtandem once and declares every prototype; raises :class:`LibraryNotFoundError` if it cannot."""
    global _loaded
    with _lock:
        if _loaded is not None:
            return _loaded
        env = os.environ.get(LIBRARY_ENV)
        tried: List[str] = []
        for candidate in _candidates():
            if os.sep in candidate and not os.path.exists(candidate):
                if candidate == env:  # an explicit path that does not exist is a mistake, not a fallback
                    raise LibraryNotFoundError(f"{LIBRARY_ENV}={env}: no such file")
                tried.append(f"{candidate} (missing)")
                continue
            try:
                lib = ctypes.CDLL(candidate)
            except OSError as exc:
                if candidate == env:
                    raise LibraryNotFoundError(f"{LIBRARY_ENV}={env}: {exc}") from exc
                tried.append(f"{candidate} ({exc})")
                continue
            _declare(lib)
            _loaded = lib
            return lib
        raise LibraryNotFoundError(
            "libtandem was not found; set TANDEM_LIBRARY to its path, install it (make install), or use a wheel "
            "that bundles it. Tried: " + "; ".join(tried)
        )


def _declare(lib: ctypes.CDLL) -> None:
    for name, (restype, argtypes) in PROTOTYPES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = list(argtypes)
