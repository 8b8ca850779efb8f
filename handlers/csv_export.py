"""A CSV file for an admin to download (the payments and feedback exports).

Every cell is text a spreadsheet will not run as a formula: one starting with = + - @ (or a
tab or carriage return) gets a leading apostrophe. The file is UTF-8 with a byte-order mark,
so spreadsheet programs open names in any script correctly.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from handlers.port import Document

MIME_TYPE = "text/csv"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """Neutralise CSV formula injection: text that a spreadsheet would evaluate."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_document(name: str, header: Sequence[str], rows: Iterable[Iterable[object]]) -> Document:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([safe_cell(value) for value in row] for row in rows)
    return Document(name, buffer.getvalue().encode("utf-8-sig"), MIME_TYPE)
