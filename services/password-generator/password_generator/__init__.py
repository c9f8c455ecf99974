"""password-generator: secure passwords over HTTP."""

# The one place the version is written: OpenAPI, metrics labels and the image read it.
__version__ = "1.0.0"
SERVICE = "password-generator"
