"""Reading a chunk's body: straight from gunicorn's socket when its reader is untouched, else
through request.read(). gunicorn's own reader classes over a real socket pair."""

import os
import socket
import threading
from types import SimpleNamespace

import pytest
from gunicorn.http.body import Body, LengthReader
from gunicorn.http.unreader import SocketUnreader

from omeroweb_upload import body

DATA = os.urandom(3 * 1024 * 1024 + 123)


@pytest.fixture
def pair():
    server, client = socket.socketpair()
    yield server, client
    server.close()
    client.close()


def _gunicorn_request(server, length, already_buffered=b""):
    """What gunicorn hands a WSGI app: the body reader, its socket, some of the body (or
    more) already read together with the headers."""
    unreader = SocketUnreader(server)
    unreader.unread(already_buffered)
    environ = {"wsgi.input": Body(LengthReader(unreader, length)), "gunicorn.socket": server}
    return SimpleNamespace(META=environ, read=environ["wsgi.input"].read), unreader


def _read_all(readinto, size):
    buffer = bytearray(size + 100)
    view, got = memoryview(buffer), 0
    while step := readinto(view[got:got + 65536]):
        got += step
    return bytes(buffer[:got])


def _send(client, data):
    thread = threading.Thread(target=client.sendall, args=(data,))
    thread.start()
    return thread


def test_the_body_comes_straight_from_the_socket_after_what_gunicorn_buffered(pair):
    server, client = pair
    request, unreader = _gunicorn_request(server, len(DATA), DATA[:1000])
    readinto = body.reader(request, len(DATA))
    assert readinto.__qualname__.startswith("_gunicorn_socket")
    sender = _send(client, DATA[1000:] + b"GET /next")
    assert _read_all(readinto, len(DATA)) == DATA
    sender.join()
    assert request.META["wsgi.input"].read(10) == b""  # gunicorn knows the body is consumed
    assert unreader.read(9) == b"GET /next"  # a pipelined request stays for gunicorn


def test_bytes_of_the_next_request_buffered_with_the_headers_are_given_back(pair):
    server, _ = pair
    request, unreader = _gunicorn_request(server, 100, DATA[:100] + b"GET /next")
    assert _read_all(body.reader(request, 100), 100) == DATA[:100]
    assert unreader.read(9) == b"GET /next"


def test_a_body_already_partly_read_goes_through_request_read(pair):
    server, client = pair
    request, _ = _gunicorn_request(server, len(DATA))
    sender = _send(client, DATA)
    start = request.read(10)
    readinto = body.reader(request, len(DATA))
    assert readinto.__qualname__.startswith("_generic")
    assert start + _read_all(readinto, len(DATA)) == DATA
    sender.join()


def test_other_servers_go_through_request_read():
    data = DATA[:5000]
    stream = iter([data[:3000], data[3000:], b""])
    request = SimpleNamespace(META={"wsgi.input": object()}, read=lambda n: next(stream))
    readinto = body.reader(request, len(data))
    assert readinto.__qualname__.startswith("_generic")
    assert _read_all(readinto, len(data)) == data
