"""Resolving file parameters (upload / attach:// / file_id / URL) into stored files."""

from __future__ import annotations

import copy
import mimetypes
import os
from dataclasses import dataclass
from typing import Any

from .errors import WRONG_FILE_ID, bad_request
from .state import EmulatorState, StoredFile


@dataclass
class Upload:
    """A multipart file part as received from the client."""

    filename: str
    content_type: str
    data: bytes

    def __repr__(self) -> str:  # keeps ApiCall.params readable in assertion messages
        return f"<upload {self.filename!r} {len(self.data)} bytes>"


_DEFAULT_NAMES = {
    "document": "document",
    "audio": "audio.mp3",
    "video": "video.mp4",
    "voice": "voice.ogg",
    "video_note": "video_note.mp4",
    "sticker": "sticker.webp",
    "photo": "photo.jpg",
}
_DEFAULT_MIME = {
    "audio": "audio/mpeg",
    "video": "video/mp4",
    "voice": "audio/ogg",
}


def _meta_for(kind: str, filename: str, params: dict[str, Any]) -> dict[str, Any]:
    """The kind-specific JSON fields Telegram reports for a freshly uploaded file."""
    mime = mimetypes.guess_type(filename)[0] or _DEFAULT_MIME.get(kind, "application/octet-stream")
    duration = int(params.get("duration") or 1)
    if kind == "document":
        return {"file_name": filename, "mime_type": mime}
    if kind == "voice":
        return {"duration": duration, "mime_type": _DEFAULT_MIME["voice"]}
    if kind == "audio":
        meta: dict[str, Any] = {"duration": duration, "file_name": filename, "mime_type": mime}
        for key in ("performer", "title"):
            if params.get(key):
                meta[key] = params[key]
        return meta
    if kind == "video":
        return {
            "width": int(params.get("width") or 640),
            "height": int(params.get("height") or 360),
            "duration": duration,
            "file_name": filename,
            "mime_type": mime,
        }
    if kind == "video_note":
        return {"length": int(params.get("length") or 240), "duration": duration}
    if kind == "sticker":
        return {
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
    return {}


def _ext(filename: str) -> str:
    return os.path.splitext(filename)[1][:10]


def lookup_upload(value: Any, field: str, uploads: dict[str, Upload]) -> Upload | None:
    if isinstance(value, Upload):
        return value
    if isinstance(value, str) and value.startswith("attach://"):
        name = value[len("attach://") :]
        if name not in uploads:
            raise bad_request(f'file of the attachment "{name}" not found')
        return uploads[name]
    if value is None and field in uploads:
        return uploads[field]
    return None


def resolve_file(
    state: EmulatorState,
    kind: str,
    value: Any,
    uploads: dict[str, Upload],
    params: dict[str, Any],
    field: str | None = None,
) -> Any:
    """Return the message field value for ``kind`` (a PhotoSize list for photos)."""
    field = field or kind
    upload = lookup_upload(value, field, uploads)
    if upload is not None:
        filename = upload.filename or _DEFAULT_NAMES[kind]
        if kind == "photo":
            return state.store_photo(upload.data)
        meta = _meta_for(kind, filename, params)
        return copy.deepcopy(
            state.store_file(kind, upload.data, meta, extension=_ext(filename)).meta
        )
    if value is None or value == "":
        raise bad_request(f"there is no {kind} in the request")
    if not isinstance(value, str):
        raise bad_request(WRONG_FILE_ID)
    if value.startswith(("http://", "https://")):
        # We can't fetch the web in tests; pretend Telegram downloaded an empty file.
        filename = value.rsplit("/", 1)[-1] or _DEFAULT_NAMES[kind]
        if kind == "photo":
            return state.store_photo(b"")
        return copy.deepcopy(
            state.store_file(
                kind, b"", _meta_for(kind, filename, params), extension=_ext(filename)
            ).meta
        )
    stored = state.files.get(value)
    if stored is None:
        raise bad_request(WRONG_FILE_ID)
    return reuse_file(stored, kind)


def reuse_file(stored: StoredFile, kind: str) -> Any:
    if stored.kind != kind and not (kind == "document" and stored.kind in ("audio", "video")):
        raise bad_request(f"can't use file of type {_type_name(stored.kind)} as {_type_name(kind)}")
    if kind == "photo":
        return copy.deepcopy(stored.photo_group or [stored.meta])
    return copy.deepcopy(stored.meta)


def _type_name(kind: str) -> str:
    return "".join(part.capitalize() for part in kind.split("_"))
