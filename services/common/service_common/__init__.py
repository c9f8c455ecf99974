"""Code shared by the sre.platform services.

Configuration from the environment, structured JSON logs with a request id,
liveness/readiness state with graceful shutdown, and HTTP metrics that carry
the identity labels (app version, pod IP, node IP) required on every series.
``asgi`` holds the FastAPI side, ``wsgi`` the Flask side; the rest is
framework-free and depends on the standard library only.
"""
