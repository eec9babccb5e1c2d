"""fakepeer: a lab stand-in for the Teams Direct Routing and Genesys BYOC SIP/TLS peers."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fakepeer")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+checkout"
