"""``python -m password_generator``: serve on $HOST:$PORT (default 0.0.0.0:8080)."""

from service_common.asgi import run_service

from password_generator import SERVICE
from password_generator.main import create_app

if __name__ == "__main__":
    run_service(SERVICE, create_app)
