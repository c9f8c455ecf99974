"""Benchmark baseline: a Flask endpoint doing one Redis SET and one GET, served
with kv-store's gunicorn.conf.py, with no probes, metrics, logging or validation."""

import os

from flask import Flask
from redis import Redis

app = Flask(__name__)
redis = Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)


@app.get("/")
def set_and_get() -> str:
    redis.set("baseline_key", "Hello Redis!")
    return redis.get("baseline_key")
