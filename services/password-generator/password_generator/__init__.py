"""password-generator: secure passwords over HTTP."""

# The one place the version is written: OpenAPI and the image read it,
# and metrics label it unless APP_VERSION (the image tag) says otherwise.
__version__ = "1.0.0"
SERVICE = "password-generator"
