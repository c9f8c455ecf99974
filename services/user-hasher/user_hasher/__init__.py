"""user-hasher: salted SHA-1 of user ids over HTTP."""

# The one place the version is written: OpenAPI, metrics labels and the image read it.
__version__ = "1.0.0"
SERVICE = "user-hasher"
