"""warden_client's canonical forms, and WardenClient over real HTTP."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from warden_client import WardenClient, WardenError, sign_request, signing, string_to_sign


def test_canonical_query_sorts_and_percent_encodes_rfc3986():
    assert signing.canonical_query_string("b=2&a=x+y&a=%7Eok&c=&d=a/b*") == "a=x%20y&a=~ok&b=2&c=&d=a%2Fb%2A"
    assert signing.canonical_query_string("a=~") == "a=~"
    assert signing.canonical_query_string("") == ""


def test_canonical_path_is_the_same_encoded_or_not():
    assert signing.canonical_path("/api/v1/x%20y/") == signing.canonical_path("/api/v1/x y/") == "/api/v1/x%20y/"


def test_string_to_sign_is_six_lines():
    text = string_to_sign("get", "/api/v1/me", "z=1&a=2", "2026-11-23T20:00:00Z", "n" * 32, "e" * 64)
    assert text == "\n".join(["GET", "/api/v1/me", "a=2&z=1", "2026-11-23T20:00:00Z", "n" * 32, "e" * 64])


def test_sign_request_reproducible_with_fixed_date_and_nonce():
    kwargs = dict(key_id="WKTEST", secret="s", date="2026-11-23T20:00:00Z", nonce="abcdefabcdefabcdef")
    one = sign_request("POST", "http://h/api/v1/x?b=1&a=2", b"{}", **kwargs)
    two = sign_request("POST", "/api/v1/x?a=2&b=1", "{}", **kwargs)
    assert one == two
    assert one["X-Warden-Content-SHA256"] == "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    assert one["Authorization"].startswith("WARDEN WKTEST:")
    assert sign_request("POST", "/api/v1/x?a=2&b=1", "{ }", **kwargs)["Authorization"] != one["Authorization"]


class _Recorder(BaseHTTPRequestHandler):
    seen = []

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        _Recorder.seen.append((self.command, self.path, self.headers, body))  # case-insensitive
        status = 404 if "missing" in self.path else 200
        payload = {"error": {"code": "not_found", "message": "Not found.", "fields": {}}} if status == 404 \
            else {"ok": True}
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Recorder.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_warden_client_signs_what_it_sends(http_server):
    client = WardenClient(http_server, "WKTESTKEY1", "the-secret")
    assert client.post("/api/v1/things", {"name": "x"}, params={"b": "2", "a": "1 2"}) == {"ok": True}
    method, path, headers, body = _Recorder.seen[-1]
    assert method == "POST" and json.loads(body) == {"name": "x"}
    assert headers["X-Warden-Content-SHA256"] == signing.body_sha256(body)
    path_only, _, query = path.partition("?")
    expected = signing.signature(
        "the-secret",
        string_to_sign("POST", path_only, query, headers["X-Warden-Date"], headers["X-Warden-Nonce"],
                       headers["X-Warden-Content-SHA256"]),
    )
    assert headers["Authorization"] == f"WARDEN WKTESTKEY1:{expected}"


def test_warden_client_uses_a_new_nonce_per_request_and_raises_on_errors(http_server):
    client = WardenClient(http_server, "WKTESTKEY1", "the-secret")
    client.get("/api/v1/me")
    client.delete("/api/v1/me")
    assert _Recorder.seen[0][2]["X-Warden-Nonce"] != _Recorder.seen[1][2]["X-Warden-Nonce"]
    with pytest.raises(WardenError) as raised:
        client.get("/api/v1/missing")
    assert raised.value.status == 404 and "Not found." in str(raised.value)


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=6), st.randoms())
def test_canonical_query_ignores_pair_order_and_encoding_style(pairs, random):
    shuffled = list(pairs)
    random.shuffle(shuffled)
    canonical = signing.canonical_query_string(urlencode(pairs))
    assert canonical == signing.canonical_query_string(urlencode(shuffled, quote_via=quote))
    assert all(ch in _RFC3986_OUTPUT for ch in canonical)


_RFC3986_OUTPUT = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%=&")
