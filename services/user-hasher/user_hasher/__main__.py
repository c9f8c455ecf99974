"""``python -m user_hasher``: serve on $HOST:$PORT (default 0.0.0.0:8080)."""

from service_common.asgi import run_service

from user_hasher import SERVICE
from user_hasher.main import create_app

if __name__ == "__main__":
    run_service(SERVICE, create_app)
