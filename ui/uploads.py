"""Files the browser uploaded through Gradio: size-checked, read into memory, then deleted.

Gradio stores each upload under its temp folder as `<sha256 of the content>/<name>` and serves anything
there at `/<page>/gradio_api/file=<path>` to whoever knows the path. Deleting the file as soon as the
handler has its bytes means no customer's screenshot or recording stays readable by anyone afterwards.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from gradio.utils import get_upload_folder

from ui.i18n import text


class UploadRefused(Exception):
    """Shown to the customer as is: the file was too large or of a kind we do not read."""


def _inside_upload_folder(path: Path) -> bool:
    # Never delete a path a forged payload names outside Gradio's own upload folder.
    try:
        return path.resolve().is_relative_to(Path(get_upload_folder()).resolve())
    except OSError:
        return False


def take_upload(path: Path, max_bytes: int, language: str = "en") -> bytes:
    """The file's bytes if it is within `max_bytes` (checked before reading); deleted either way."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise UploadRefused(
                text(language, "too_big").format(size=f"{size / 1e6:.1f}", limit=f"{max_bytes / 1e6:.0f}")
            )
        return path.read_bytes()
    except OSError as error:  # e.g. an identical upload from another session was just deleted
        raise UploadRefused(text(language, "unreadable")) from error
    finally:
        discard(path)


def discard(path: Path) -> None:
    """Delete an upload and its per-file folder; silently ignores paths outside Gradio's upload folder."""
    if not _inside_upload_folder(path):
        return
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)
        path.parent.rmdir()  # only succeeds when empty: the folder is named for this one content hash
