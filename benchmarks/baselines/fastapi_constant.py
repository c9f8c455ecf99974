"""Benchmark baseline: a FastAPI endpoint returning a constant, served exactly as
the FastAPI services are (service_common.asgi.serve: one uvicorn worker, uvloop,
httptools), with no middleware, metrics or logging."""

from fastapi import FastAPI
from service_common.asgi import serve
from service_common.env import server_settings_from_env
from service_common.lifecycle import Readiness

app = FastAPI()


@app.get("/")
async def constant() -> str:
    return "ok"


if __name__ == "__main__":
    serve(app, Readiness(), server_settings_from_env())
