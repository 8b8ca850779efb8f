"""/admin → Export feedback: every rating as a CSV document (appointment id, doctor, date,
rating, comment), the export written to the audit log.

Comments are patients' own text: `handlers.csv_export` keeps every cell from running as a
spreadsheet formula.
"""

from __future__ import annotations

from clinic.timezones import zone
from handlers.csv_export import csv_document
from handlers.turn import Turn

EXPORTED_MAX = 50_000
HEADER = ("appointment_id", "doctor", "date", "rating", "comment")


async def export(turn: Turn, target: str) -> None:
    t = turn.t
    turn.answer()
    zone_name = turn.zone_name
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
        csv_document(f"feedback-{stamp}.csv", HEADER, rows),
        t(
            "{count} ratings; dates in {tz}. Comments are patients' own words: keep this "
            "file confidential.",
            count=len(rows),
            tz=zone_name,
        ),
    )
