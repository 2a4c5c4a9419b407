"""The upload plugin's services, by concern: request parsing (`parsing`), the job lifecycle
(`lifecycle`), receiving chunks (`chunk_upload`), the job rows and folder (`store`), and user
settings (`user_settings`). The names the views and jobs use are importable from here."""

from .chunk_upload import receive_chunk
from .lifecycle import (
    CANCELLED_IMPORT,
    CANCELLED_UPLOAD,
    cancel,
    prune,
    start,
    start_import,
    status,
)
from .parsing import SEM_EDX, SEM_EDX_DEFAULTS
from .store import delete_job_files, upload_dir
from .user_settings import (
    load_method_settings,
    load_user_settings,
    save_method_settings,
    save_user_settings,
)

__all__ = [
    "CANCELLED_IMPORT", "CANCELLED_UPLOAD", "SEM_EDX", "SEM_EDX_DEFAULTS", "cancel",
    "delete_job_files", "load_method_settings",
    "load_user_settings", "prune", "receive_chunk", "save_method_settings",
    "save_user_settings", "start", "start_import", "status", "upload_dir",
]
