"""Status codes become TandemError subclasses carrying the library's last-error message."""

from __future__ import annotations

import pytest

import tandem


def test_unknown_config_key_is_an_invalid_argument() -> None:
    with pytest.raises(tandem.InvalidArgumentError) as info:
        tandem.Client({"no_such_key": 1})
    assert info.value.status == tandem.Status.ERR_INVALID_ARGUMENT
    assert "no_such_key" in info.value.message
    assert info.value.message == tandem.last_error_message()
    assert str(info.value).startswith("TANDEM_ERR_INVALID_ARGUMENT: ")


def test_invalid_json_parts(client: tandem.Client) -> None:
    session = client.start_session(model="scripted:echo")
    with pytest.raises(tandem.InvalidArgumentError):
        session.send_parts([{"type": "video"}])


def test_unknown_session_is_not_found(client: tandem.Client) -> None:
    ghost = client.session("session-404")
    with pytest.raises(tandem.NotFoundError) as info:
        ghost.send("hello?")
    assert isinstance(info.value, LookupError) and isinstance(info.value, tandem.TandemError)
    assert info.value.status_name == "TANDEM_ERR_NOT_FOUND"
    assert info.value.message != ""


def test_taken_session_id(client: tandem.Client) -> None:
    client.start_session(session_id="mine")
    with pytest.raises(tandem.AlreadyExistsError):
        client.start_session(session_id="mine")
    assert client.start_or_get_session("mine").id == "mine"


def test_bad_option_value(client: tandem.Client) -> None:
    with pytest.raises(tandem.InvalidArgumentError):
        client.start_session(model="no-provider-prefix")
    with pytest.raises(tandem.InvalidArgumentError):
        client.start_session(unknown_option=True)


def test_no_pending_approval(client: tandem.Client) -> None:
    session = client.start_session()
    with pytest.raises(tandem.NoPendingApprovalError):
        session.approve()


def test_strings_with_nul_are_refused_before_the_call(client: tandem.Client) -> None:
    session = client.start_session()
    with pytest.raises(ValueError, match="NUL"):
        session.send("a\0b")


def test_closed_client_raises(client: tandem.Client) -> None:
    session = client.start_session()
    client.close()
    assert client.closed
    with pytest.raises(tandem.ShuttingDownError):
        session.status()
    client.close()  # idempotent


def test_error_for_unknown_status() -> None:
    from tandem.errors import error_for

    err = error_for(77, "from the future")
    assert type(err) is tandem.TandemError and err.status == 77 and err.status_name == "TANDEM_UNKNOWN_STATUS"


def test_the_remote_gateway_listens_once_on_loopback(client: tandem.Client) -> None:
    import socket

    with pytest.raises(tandem.InvalidArgumentError) as info:
        client.listen(address="0.0.0.0:0")
    assert "insecure" in info.value.message
    url = client.listen()
    assert url.startswith("ws://127.0.0.1:")
    with pytest.raises(tandem.AlreadyExistsError):
        client.listen()
    host, port = url[len("ws://") :].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10):
        pass
    client.stop_listening()
    client.stop_listening()
    assert client.listen().startswith("ws://127.0.0.1:")
