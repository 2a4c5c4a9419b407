import json
import logging

import pytest
from django.test import RequestFactory

from omero_plugin_common import access
from omero_plugin_common import omero_helpers as oh
from omero_plugin_common.logging_config import configure_logging, logging_dict
from omero_plugin_common.web import (
    RequestError,
    handle_request_errors,
    json_error,
    page_from_request,
    paginate,
    parse_json_body,
)

rf = RequestFactory()


def json_request(body: bytes, content_type="application/json"):
    return rf.post("/x", body, content_type=content_type)


def test_json_body_parsed():
    assert parse_json_body(json_request(b'{"a": [1, 2]}')) == {"a": [1, 2]}


@pytest.mark.parametrize(("body", "content_type", "status", "message"), [
    (b"{", "application/json", 400, "request body is not valid JSON"),
    (b"[1]", "application/json", 400, "must be a JSON object"),
    (b"\xff", "application/json", 400, "not valid JSON"),
    (b"a=1", "application/x-www-form-urlencoded", 415, "expected Content-Type"),
    (b'{"a": "' + b"x" * 2000 + b'"}', "application/json", 413, "larger than 1024 bytes"),
])
def test_bad_bodies_are_clear_errors(body, content_type, status, message):
    with pytest.raises(RequestError) as err:
        parse_json_body(json_request(body, content_type), max_bytes=1024)
    assert err.value.status == status
    assert message in err.value.message


def test_one_error_shape():
    view = handle_request_errors(lambda request: parse_json_body(request))
    response = view(json_request(b"{"))
    assert response.status_code == 400
    assert json.loads(response.content)["error"]["code"] == "bad_request"
    assert json.loads(json_error("slow down", 429, retry_after=3).content) == {
        "error": {"code": "rate_limited", "message": "slow down", "retry_after": 3}}


def test_pagination():
    page = page_from_request(rf.get("/x", {"page": "2", "size": "3"}))
    assert paginate(list(range(8)), page) == {
        "items": [3, 4, 5], "page": 2, "size": 3, "total": 8, "pages": 3}
    assert paginate([], page_from_request(rf.get("/x")))["pages"] == 1
    for bad in ({"page": "0"}, {"size": "501"}, {"page": "x"}):
        with pytest.raises(RequestError):
            page_from_request(rf.get("/x", bad))


def test_omero_helpers_on_the_test_double(fake_omero):
    lab = fake_omero.add_group("lab", "read-annotate")
    private = fake_omero.add_group("private-lab", "private")
    alice = fake_omero.add_user("alice", [lab, private])
    fake_omero.add_user("bob", [lab])
    project = fake_omero.add_project("P1", alice, lab)
    alice_conn, bob_conn = fake_omero.connect("alice"), fake_omero.connect("bob")
    mine = alice_conn.getObject("Project", project.id)
    theirs = bob_conn.getObject("Project", project.id)
    assert oh.get_id(mine) == project.id
    assert oh.get_text(mine) == "P1"
    assert oh.owner_id(mine) == alice.id and oh.owner_name(theirs) == "alice"
    assert oh.group_id(theirs) == lab.id
    assert oh.username(bob_conn) == "bob"
    assert access.can_read(bob_conn, theirs)
    assert access.is_root(fake_omero.connect("root")) and not access.is_admin(bob_conn)
    assert oh.can_annotate(theirs) and not oh.can_edit(theirs)
    assert oh.can_edit(mine)


def test_rtype_unwrapping():
    from omero.rtypes import rlong, rstring

    assert oh.get_id(rlong(7)) == 7
    assert oh.get_text(rstring("x")) == "x"
    assert oh.get_text(None, "-") == "-"
    assert oh.get_text(b"caf\xc3\xa9") == "café"


def test_logging_goes_to_stderr_and_quiets_the_gateway(capsys):
    configure_logging("info")
    logging.getLogger("omero.gateway.utils").info("noise")
    logging.getLogger("omeroweb_upload").info("useful")
    err = capsys.readouterr().err
    assert "INFO omeroweb_upload: useful" in err and "noise" not in err
    assert logging_dict("debug")["root"]["level"] == "DEBUG"
