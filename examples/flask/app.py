"""A small Flask app to run behind keel, under Gunicorn:

    gunicorn -b 127.0.0.1:5000 --chdir examples/flask app:app
    keel serve --proxy "/=http://127.0.0.1:5000" --intercept-errors
    keel serve --run "gunicorn -b 127.0.0.1:{port} --chdir examples/flask app:app" --instances 2

It runs in debug mode on purpose: /boom answers 500 with Werkzeug's debug traceback page, the
kind of page that leaks source and settings when a debug flag slips into production. keel's
--intercept-errors replaces it with the generic error page (and logs the original).
"""
import hashlib
import os
import time

from flask import Flask, jsonify, request
from werkzeug.debug import DebuggedApplication

flask_app = Flask(__name__)
flask_app.debug = True


@flask_app.get("/")
def hello():
    return "Hello from Flask\n"


@flask_app.get("/healthz")
def healthz():
    return jsonify(status="ok")


@flask_app.get("/whoami")
def whoami():
    """Which process answered, and what keel forwarded: for balancing and header checks."""
    return jsonify(pid=os.getpid(), headers=dict(request.headers))


@flask_app.get("/slow")
def slow():
    """Answers after ?ms= milliseconds (at most 2000): a request that keeps a sync worker busy."""
    time.sleep(min(int(request.args.get("ms", "200")), 2000) / 1000)
    return "slow\n"


@flask_app.post("/echo")
def echo():
    """What arrived of an upload: its size, digest and framing (for keel's request-buffering tests)."""
    body = request.get_data()
    return jsonify(
        length=len(body),
        sha256=hashlib.sha256(body).hexdigest(),
        content_length=request.headers.get("Content-Length"),
        transfer_encoding=request.headers.get("Transfer-Encoding"),
    )


@flask_app.get("/bytes")
def many_bytes():
    """?mb= mebibytes (at most 64) of b"k": a download a slow client could hold a sync worker with."""
    size = min(int(request.args.get("mb", "1")), 64) * 1024 * 1024
    return b"k" * size, 200, {"Content-Type": "application/octet-stream"}


@flask_app.get("/boom")
def boom():
    raise RuntimeError("boom: a failure whose traceback must not reach the client")


# The debugger page with the traceback, as `flask run --debug` would show it (no console: evalex off).
app = DebuggedApplication(flask_app, evalex=False)
