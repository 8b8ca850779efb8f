"""The feedback CSV: cells a spreadsheet would run as formulas are neutralised."""

from __future__ import annotations

import csv
import io

from handlers.csv_export import csv_document, safe_cell
from handlers.feedback_export import HEADER


def test_formula_cells_get_an_apostrophe_and_others_stay() -> None:
    for risky in ("=1+1", "+49 151", "-2", "@SUM(A1)", "\t=x", "\r=x"):
        assert safe_cell(risky) == "'" + risky
    for fine in ("Great visit", "", "5 stars = top", "Ärztin 👍", "'quoted"):
        assert safe_cell(fine) == fine


def test_the_file_reads_back_with_the_csv_module() -> None:
    document = csv_document(
        "f.csv", HEADER, [(7, "Dr Ana", "2026-12-01", 4, 'Said "hi",\nthen =cmd|x')]
    )
    data = document.data
    assert document.mime_type == "text/csv" and document.filename == "f.csv"
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM for spreadsheets
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows == [
        ["appointment_id", "doctor", "date", "rating", "comment"],
        ["7", "Dr Ana", "2026-12-01", "4", 'Said "hi",\nthen =cmd|x'],
    ]
