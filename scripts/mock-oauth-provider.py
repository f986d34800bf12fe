#!/usr/bin/env python3
"""A local stand-in for an OAuth 2.0 provider (Google-style endpoints), to try apuntador's OAuth proxy
without a Google, Dropbox or Microsoft account. Standard library only; listens on 127.0.0.1.

    python3 scripts/mock-oauth-provider.py --port 9999 [--client-id demo-client-id]
                                           [--client-secret demo-client-secret]

Endpoints (point GOOGLE_AUTHORIZE_URL, GOOGLE_TOKEN_URL and GOOGLE_REVOKE_URL at them):

    GET  /authorize  plays the user who consents at once: 302 to redirect_uri with a one-time code and
                     the state; remembers the PKCE code_challenge (S256 only)
    POST /token      grant_type=authorization_code: checks client_id/client_secret, the code (once),
                     redirect_uri and code_verifier against the remembered challenge;
                     grant_type=refresh_token: checks the refresh token; answers like Google does
    POST /revoke     ?token=...: 200 for a token it issued, else 400

It checks what a real provider checks, so a proxy that sent a wrong verifier, secret or redirect_uri
fails here too. Errors are OAuth JSON errors (RFC 6749 section 5.2). Nothing is logged but the method,
path and status.
"""

import argparse
import base64
import hashlib
import json
import secrets
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

LOCK = threading.Lock()
CODES = {}  # code -> {"challenge", "redirect_uri"}
TOKENS = set()  # access and refresh tokens issued


def s256(verifier):
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class Provider(BaseHTTPRequestHandler):
    server_version = "mock-oauth-provider/1"

    def log_message(self, fmt, *args):
        # Never the query string: it carries codes and tokens.
        sys.stderr.write("mock-oauth-provider: %s %s -> %s\n" % (self.command, urlsplit(self.path).path, args[1] if len(args) > 1 else "-"))

    def answer(self, status, body=None, headers=()):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, code):
        self.answer(status, {"error": code})

    def form(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8") if length else ""
        return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path != "/authorize":
            return self.error(404, "not_found")
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if q.get("client_id") != self.server.client_id:
            return self.error(400, "invalid_client")
        if q.get("response_type") != "code" or q.get("code_challenge_method") != "S256":
            return self.error(400, "invalid_request")
        if not q.get("redirect_uri") or not q.get("code_challenge"):
            return self.error(400, "invalid_request")
        code = "mock-code-" + secrets.token_urlsafe(16)
        with LOCK:
            CODES[code] = {"challenge": q["code_challenge"], "redirect_uri": q["redirect_uri"]}
        params = {"code": code}
        if "state" in q:
            params["state"] = q["state"]
        sep = "&" if "?" in q["redirect_uri"] else "?"
        self.answer(302, headers=[("Location", q["redirect_uri"] + sep + urlencode(params))])

    def do_POST(self):
        url = urlsplit(self.path)
        if url.path == "/revoke":
            token = parse_qs(url.query).get("token", [""])[0]
            with LOCK:
                known = token in TOKENS
                TOKENS.discard(token)
            return self.answer(200, {}) if known else self.error(400, "invalid_token")
        if url.path != "/token":
            return self.error(404, "not_found")
        f = self.form()
        if f.get("client_id") != self.server.client_id or f.get("client_secret") != self.server.client_secret:
            return self.error(401, "invalid_client")
        grant = f.get("grant_type")
        if grant == "authorization_code":
            with LOCK:
                issued = CODES.pop(f.get("code", ""), None)
            if issued is None or issued["redirect_uri"] != f.get("redirect_uri"):
                return self.error(400, "invalid_grant")
            if s256(f.get("code_verifier", "")) != issued["challenge"]:
                return self.error(400, "invalid_grant")
            refresh = "mock-refresh-" + secrets.token_urlsafe(16)
        elif grant == "refresh_token":
            with LOCK:
                if f.get("refresh_token") not in TOKENS:
                    return self.error(400, "invalid_grant")
            refresh = None
        else:
            return self.error(400, "unsupported_grant_type")
        access = "mock-access-" + secrets.token_urlsafe(16)
        with LOCK:
            TOKENS.add(access)
            if refresh:
                TOKENS.add(refresh)
        body = {"access_token": access, "expires_in": 3599, "token_type": "Bearer",
                "scope": "https://www.googleapis.com/auth/drive"}
        if refresh:
            body["refresh_token"] = refresh
        self.answer(200, body)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=9999)
    parser.add_argument("--client-id", default="demo-client-id")
    parser.add_argument("--client-secret", default="demo-client-secret")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Provider)
    server.client_id = args.client_id
    server.client_secret = args.client_secret
    sys.stderr.write("mock-oauth-provider: listening on http://127.0.0.1:%d\n" % server.server_port)
    sys.stderr.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
