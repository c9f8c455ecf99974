"""Code shared by the sre.platform services.

Configuration from the environment, structured JSON logs with a request id,
liveness/readiness state with graceful shutdown, HTTP metrics that carry
the identity labels (app version, pod IP, node IP) required on every series,
and JSON answers for the requests the servers refuse (``http_errors``).
``asgi`` holds the FastAPI side (with uvicorn), ``wsgi`` the Flask side and
``gunicorn_worker`` its gunicorn worker; the rest is framework-free and
depends on the standard library only.
"""
