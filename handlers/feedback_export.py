"""/admin → Export feedback: every rating as a CSV document (appointment id, doctor, date,
rating, comment), the export written to the audit log.

Comments are patients' own text: a cell starting with = + - @ (or a tab or carriage return)
gets a leading apostrophe, so a spreadsheet shows it as text instead of running it as a formula.
"""

from __future__ import annotations

import csv
import io

from clinic.timezones import zone
from handlers.port import Document
from handlers.turn import Turn

EXPORTED_MAX = 50_000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
HEADER = ("appointment_id", "doctor", "date", "rating", "comment")


def safe_cell(value: str) -> str:
    """Neutralise CSV formula injection: text that a spreadsheet would evaluate."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def feedback_csv(rows: list[tuple[int, str, str, int, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    for appointment_id, doctor, date, rating, comment in rows:
        writer.writerow((appointment_id, safe_cell(doctor), date, rating, safe_cell(comment)))
    # With a byte-order mark, spreadsheet programs open UTF-8 (names in any script) correctly.
    return buffer.getvalue().encode("utf-8-sig")


async def export(turn: Turn, target: str) -> None:
    t = turn.t
    turn.answer()
    zone_name = turn.user.timezone if turn.user else turn.config.default_timezone
    local = zone(zone_name)
    found = await turn.uow.admin.feedback_rows(EXPORTED_MAX)
    rows = [
        (
            appointment.id,
            appointment.doctor.user.full_name or "",
            appointment.starts_at.astimezone(local).date().isoformat(),
            feedback.rating,
            feedback.comment or "",
        )
        for feedback, appointment in found
    ]
    turn.uow.audit.record(
        turn.event.user_id, None, "feedback_export", f"rows:{len(rows)}", True, turn.now
    )
    if not rows:
        turn.reply(t("There is no feedback to export yet."))
        return
    stamp = turn.now.astimezone(local).strftime("%Y-%m-%d")
    turn.send_document(
        Document(f"feedback-{stamp}.csv", feedback_csv(rows), "text/csv"),
        t(
            "{count} ratings; dates in {tz}. Comments are patients' own words: keep this "
            "file confidential.",
            count=len(rows),
            tz=zone_name,
        ),
    )
