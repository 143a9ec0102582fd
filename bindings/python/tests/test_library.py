"""The binding against the header: every C function bound, enums equal, version, library loading."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import tandem
from tandem import _lib

HEADER = Path(__file__).resolve().parents[3] / "include" / "tandem.h"


def header_text() -> str:
    if not HEADER.exists():
        pytest.skip("include/tandem.h is not in this checkout")
    return HEADER.read_text()


def test_every_header_function_has_a_prototype() -> None:
    declared = set(re.findall(r"^[a-z_ ]+?\**\s*\b(tandem_[a-z_]+)\(", header_text(), re.MULTILINE))
    assert len(declared) > 60
    assert declared == set(_lib.PROTOTYPES), "bind new functions in tandem/_lib.py (and wrap them)"


def test_every_prototype_is_wrapped() -> None:
    """Each C function is called somewhere in the Pythonic layer, not only declared."""
    source = (Path(tandem.__file__).parent / "client.py").read_text()
    unwrapped = [name for name in _lib.PROTOTYPES if f".{name}" not in source]
    assert unwrapped == []


ALL_ENUMS = [tandem.Status, tandem.PromptResult, tandem.SessionStatus, tandem.EventKind, tandem.MessageLevel,
             tandem.ApprovalDecision]


@pytest.mark.parametrize("enum", ALL_ENUMS, ids=lambda e: e.__name__)
def test_enums_print_as_their_names(enum: Any) -> None:
    for member in enum:
        name = f"{enum.__name__}.{member.name}"
        assert str(member) == name
        assert f"{member}" == name
        assert "{}".format(member) == name
        assert repr(member) == f"<{name}: {member.value}>"
        assert f"{member:d}" == str(member.value)  # a numeric format spec still formats the number
        assert member == member.value and int(member) == member.value
    assert f"status is {tandem.SessionStatus.TOOL_EXECUTING}" == "status is SessionStatus.TOOL_EXECUTING"


def test_errors_name_their_status() -> None:
    err = tandem.NotFoundError("gone")
    assert f"{err.status}" == "Status.ERR_NOT_FOUND"


@pytest.mark.parametrize(
    "enum, prefix",
    [
        (tandem.Status, "TANDEM_"),
        (tandem.PromptResult, "TANDEM_PROMPT_RESULT_"),
        (tandem.SessionStatus, "TANDEM_SESSION_STATUS_"),
        (tandem.EventKind, "TANDEM_EVENT_KIND_"),
        (tandem.MessageLevel, "TANDEM_MESSAGE_LEVEL_"),
        (tandem.ApprovalDecision, "TANDEM_APPROVAL_DECISION_"),
    ],
)
def test_enums_match_the_header(enum: type, prefix: str) -> None:
    text = header_text()
    values = {
        name[len(prefix):]: int(value)
        for name, value in re.findall(r"^\s+(TANDEM_[A-Z_0-9]+) = (\d+),", text, re.MULTILINE)
        if name.startswith(prefix)
    }
    if enum is tandem.Status:  # TANDEM_OK and TANDEM_ERR_*, not the other enums that share the prefix
        values = {k: v for k, v in values.items() if k == "OK" or k.startswith("ERR_")}
    assert values == {m.name: m.value for m in enum}  # type: ignore[attr-defined]


def test_status_names_come_from_the_library() -> None:
    for status in tandem.Status:
        assert tandem.status_name(status) == status.c_name
    assert tandem.status_name(999) == "TANDEM_UNKNOWN_STATUS"


def test_version_matches_the_header() -> None:
    major, minor, patch = (
        re.search(rf"#define TANDEM_VERSION_{part} (\d+)", header_text()).group(1)  # type: ignore[union-attr]
        for part in ("MAJOR", "MINOR", "PATCH")
    )
    assert tandem.version() == f"{major}.{minor}.{patch}"


def test_event_kinds_have_dataclasses() -> None:
    from tandem.events import event_class

    for kind in tandem.EventKind:
        cls = event_class(kind.label)
        assert cls is not tandem.Event and cls.KIND == kind.label


def test_unknown_event_kinds_still_parse() -> None:
    event = tandem.parse_event('{"seq": 4, "session_id": null, "kind": "from_the_future", "x": 1}')
    assert type(event) is tandem.Event
    assert (event.seq, event.session_id, event.kind, event.raw["x"]) == (4, None, "from_the_future", 1)


def test_a_missing_library_path_is_reported() -> None:
    code = "import tandem\ntry:\n    tandem.version()\nexcept tandem.LibraryNotFoundError as e:\n    print(e)\n"
    env = dict(os.environ, TANDEM_LIBRARY="/nonexistent/libtandem.so")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert "TANDEM_LIBRARY=/nonexistent/libtandem.so: no such file" in out.stdout


def test_workdir_session_id_is_stable(tmp_path: Path) -> None:
    a = tandem.workdir_session_id(str(tmp_path))
    assert re.fullmatch(r"workdir-[0-9a-f]{16}", a)
    assert tandem.workdir_session_id(str(tmp_path / "x" / "..")) == a
    assert tandem.workdir_session_id(str(tmp_path / "other")) != a
