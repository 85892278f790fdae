"""lumiere-eval: an evaluation harness for text-to-video diffusion models.

Importing the package is cheap: subpackages load on first use, and heavy optional dependencies
(diffusers, boto3, streamlit) are only imported by the code paths that need them.
"""
from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("lumiere-eval")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"


class LumiereEvalError(Exception):
    """Base class of every error the harness raises on purpose (bad input, missing files, bad config)."""
