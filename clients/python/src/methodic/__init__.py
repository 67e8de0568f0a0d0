"""methodic: the Python client of Chronicle, methodic's run chronicle for ML training.

Standard library only. ``Chronicle()`` connects; ``chronicle.run(exp_id, variation, run_idx)`` is a
run's handle (``start``, heartbeats, ``upload_environment``, ``upload_asset``,
``upload_directory_async`` with an ``UploadTracker``, ``succeed``, ``latest_output``,
``download_asset``); ``chronicle.variation(exp_id, variation)`` lists outputs and inputs.
"""

from .chronicle import Chronicle, Variation
from .errors import AuthError, ChronicleError, ConflictError, NotFoundError, UnavailableError, ValidationError
from .run import Run
from .tracker import UploadTracker
from .upload import DirectoryUpload

__version__ = "0.1.0"

__all__ = [
    "AuthError",
    "Chronicle",
    "ChronicleError",
    "ConflictError",
    "DirectoryUpload",
    "NotFoundError",
    "Run",
    "UnavailableError",
    "UploadTracker",
    "ValidationError",
    "Variation",
]
