# Stand-in for examples/flask/app.py, used while that file does not exist: the
# Flask rows' upstream under Gunicorn (gunicorn --chdir bench/peers flask_app:app).
from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello():
    return "Hello, world!\n", 200, {"Content-Type": "text/plain; charset=utf-8"}
