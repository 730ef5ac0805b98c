#!/usr/bin/env python3
"""Verify Sixtyfour webhook signatures with the Python standard library only.

    Sixtyfour-Signature: t=<unix_seconds>,v1=<hex>[,v1=<hex>]

Each v1 is the lowercase hex HMAC-SHA256 of b"<t>." + raw_body, keyed with the
UTF-8 bytes of the whole secret string ("sk_whsec_..." prefix included).
During a secret rotation the header carries two v1 values (new first, old
second), so parse every v1: never put the header into a dict.

Usage:
    python3 verify.py check   read {"header", "body_b64", "secrets", "now"}
                              as JSON on stdin, print "ok" or "fail: <reason>"
    python3 verify.py serve   run a receiver with http.server
                              (env SIGNING_SECRETS, LISTEN_ADDR=127.0.0.1:8082)
"""

import base64
import hashlib
import hmac
import json
import os
import sys
import time

HEADER_NAME = "Sixtyfour-Signature"
DEFAULT_TOLERANCE = 300  # seconds, both directions
MAX_BODY_BYTES = 1 << 20
_MAX_INT64 = (1 << 63) - 1


def verify(header, raw_body, secrets, now=None, tolerance=DEFAULT_TOLERANCE):
    """Check a Sixtyfour-Signature header against the raw request body.

    header: the header value (str); raw_body: the exact bytes received, before
    any JSON parsing; secrets: the current secret and, during a rotation, the
    previous one (empty strings are ignored); now: Unix seconds, defaults to
    time.time(); tolerance: seconds, a distance of exactly tolerance is ok.

    Returns None if a v1 matches. Raises ValueError whose message starts with
    one of: "missing signature header", "malformed signature header",
    "timestamp outside tolerance", "no matching signature".
    """
    if not header:
        raise ValueError("missing signature header")
    t, signatures = _parse(header)
    if now is None:
        now = time.time()
    now = int(now)
    if abs(now - t) > tolerance:
        raise ValueError(
            "timestamp outside tolerance: t=%d is %ds from now" % (t, abs(now - t))
        )
    keys = [s for s in secrets if s]
    if not keys:
        raise ValueError("no matching signature: no secrets configured")
    message_prefix = b"%d." % t
    for secret in keys:
        mac = hmac.new(secret.encode("utf-8"), message_prefix, hashlib.sha256)
        mac.update(raw_body)
        expected = mac.hexdigest().encode("ascii")
        for sig in signatures:
            # Compare bytes: compare_digest rejects non-ASCII str arguments.
            if hmac.compare_digest(expected, sig.encode("utf-8", "surrogatepass")):
                return None
    raise ValueError("no matching signature")


def _parse(header):
    """Return (t, [v1, ...]); segments split on ",", key/value on the first "="."""
    t = None
    signatures = []
    for i, segment in enumerate(header.split(","), start=1):
        if not segment:
            raise ValueError("malformed signature header: segment %d is empty" % i)
        key, sep, value = segment.partition("=")
        if not sep:
            raise ValueError("malformed signature header: segment %d has no '='" % i)
        if key == "t":
            if t is not None:
                raise ValueError("malformed signature header: segment %d repeats t" % i)
            t = _parse_unix_seconds(value)
        elif key == "v1":
            signatures.append(value)
        # Other schemes (v0, ...) are ignored.
    if t is None:
        raise ValueError("malformed signature header: no t segment")
    if not signatures:
        raise ValueError("malformed signature header: no v1 segment")
    return t, signatures


def _parse_unix_seconds(value):
    """An optional "-" then 1 to 19 ASCII digits, fitting an int64 (as in Go).

    int() alone would also accept "+1", " 1", "1_0" and non-ASCII digits.
    """
    digits = value[1:] if value.startswith("-") else value
    if not (1 <= len(digits) <= 19 and digits.isascii() and digits.isdigit()):
        raise ValueError("malformed signature header: t is not a decimal integer")
    t = int(value)
    if not -_MAX_INT64 - 1 <= t <= _MAX_INT64:
        raise ValueError("malformed signature header: t does not fit in int64")
    return t


def _check(stdin, stdout):
    """The "check" mode used by examples_test.go. Returns the exit code."""
    try:
        req = json.load(stdin)
        header = req.get("header") or ""
        body = base64.b64decode(req.get("body_b64") or "", validate=True)
        secrets = req.get("secrets") or []
        now = req.get("now")
        tolerance = req.get("tolerance") or DEFAULT_TOLERANCE
        if not isinstance(header, str) or not isinstance(secrets, list):
            raise TypeError("header must be a string and secrets a list")
        if not all(isinstance(s, str) for s in secrets):
            raise TypeError("secrets must be strings")
        for name, value in (("now", now), ("tolerance", tolerance)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise TypeError("%s must be an integer number of seconds" % name)
    except (ValueError, TypeError, AttributeError) as e:
        print("usage error: %s" % e, file=sys.stderr)
        return 2
    try:
        verify(header, body, secrets, now=now, tolerance=tolerance)
    except ValueError as e:
        print("fail: %s" % e, file=stdout)
        return 0
    print("ok", file=stdout)
    return 0


def _serve():
    """A minimal receiver: verify, dedupe on Sixtyfour-Event-Id, answer 204."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    import threading

    secrets = [s.strip() for s in os.environ.get("SIGNING_SECRETS", "").split(",") if s.strip()]
    if not 1 <= len(secrets) <= 2:
        print("SIGNING_SECRETS: want 1 or 2 comma-separated secrets", file=sys.stderr)
        return 2
    host, _, port = os.environ.get("LISTEN_ADDR", "127.0.0.1:8082").rpartition(":")
    seen, lock = set(), threading.Lock()  # a real receiver uses a store with a TTL

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                return self._answer(400)
            if length < 0:
                return self._answer(400)
            if length > MAX_BODY_BYTES:
                return self._answer(413)
            raw_body = self.rfile.read(length)  # raw bytes: verify before json.loads
            try:
                verify(self.headers.get(HEADER_NAME, ""), raw_body, secrets)
            except ValueError as e:
                self.log_message("rejected: %s", e)
                return self._answer(400)
            event_id = self.headers.get("Sixtyfour-Event-Id", "")
            if not event_id:
                return self._answer(400)
            with lock:
                duplicate = event_id in seen
                seen.add(event_id)
            self.log_message("%s event_id=%s type=%s attempt=%s",
                             "duplicate" if duplicate else "accepted", event_id,
                             self.headers.get("Sixtyfour-Event-Type", ""),
                             self.headers.get("Sixtyfour-Delivery-Attempt", ""))
            self._answer(204)

        def _answer(self, status):
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer((host or "127.0.0.1", int(port)), Handler)
    print("listening on %s:%s" % server.server_address[:2], file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) == 2 else ""
    if mode == "check":
        sys.exit(_check(sys.stdin, sys.stdout))
    if mode == "serve":
        sys.exit(_serve())
    print("usage: %s check|serve" % sys.argv[0], file=sys.stderr)
    sys.exit(2)
