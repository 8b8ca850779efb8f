"""/export for patients: everything the clinic holds about them, as JSON and as a readable PDF.

```mermaid
stateDiagram-v2
    [*] --> sent: /export (a registered patient)
    sent --> [*]: a JSON file and a PDF, the read audited
```
The export holds the profile, appointments (doctor, specialty, times, status, reason),
consultations (summary and the relayed chat, both directions; never the doctor's private
notes), prescriptions, feedback, the list of uploaded documents (not the files) and payments.
Every query is bounded by the patient's own id, so nothing of anyone else's can be in it.
Times are given in UTC and in the patient's zone. `begin(turn)` is the one entry point (an
unlocked PIN session will be required in front of it).
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from clinic.timezones import zone
from handlers.formatting import money, when
from handlers.i18n import Translator, plain
from handlers.port import Document
from handlers.prescription_pdf import MIME_TYPE as PDF_MIME
from handlers.prescription_pdf import PdfWriter, prescription_item
from handlers.turn import Turn
from storage.models import Appointment, RelayedMessage, User
from storage.unit_of_work import UnitOfWork

FORMAT = "telemed-export/1"
AUDIT_ACTION = "privacy.export"
JSON_MIME = "application/json"

Data = dict[str, Any]


def moment(value: datetime | None, zone_name: str) -> Data | None:
    """One time, in UTC and in the patient's zone (ISO 8601)."""
    if value is None:
        return None
    utc = value.astimezone(UTC)
    return {
        "utc": utc.isoformat().replace("+00:00", "Z"),
        "local": utc.astimezone(zone(zone_name)).isoformat(),
    }


def _doctor(appointment: Appointment) -> Data:
    doctor = appointment.doctor
    return {"name": doctor.user.full_name, "specialty": doctor.specialty.name}


async def collect(uow: UnitOfWork, user: User, now: datetime) -> Data:
    """Everything the patient owns, as plain JSON-ready values (no ORM objects)."""
    tz = user.timezone
    privacy = uow.privacy
    appointments = await privacy.appointments(user.id)
    consultations = await privacy.consultations(user.id)
    consultation_ids = [c.id for c in consultations]
    chat: dict[int, list[RelayedMessage]] = defaultdict(list)
    for message in await privacy.chat(consultation_ids):
        chat[message.consultation_id].append(message)
    prescriptions = await privacy.prescriptions(consultation_ids)
    reference = {c.id: c.reference for c in consultations}
    return {
        "format": FORMAT,
        "exported_at": moment(now, tz),
        "profile": {
            "full_name": user.full_name,
            "date_of_birth": user.date_of_birth,
            "phone": user.phone,
            "language": user.language,
            "timezone": tz,
            "telegram_user_id": user.telegram_id,
            "registered_at": moment(user.registered_at, tz),
            "consent": {
                "version": user.consent_version,
                "given_at": moment(user.consent_at, tz),
            },
        },
        "appointments": [
            {
                "id": a.id,
                "doctor": _doctor(a),
                "starts_at": moment(a.starts_at, tz),
                "ends_at": moment(a.ends_at, tz),
                "status": a.status,
                "reason": a.reason,
                "booked_at": moment(a.created_at, tz),
                "cancelled_by": a.cancelled_by,
                "late_cancellation": bool(a.late_cancellation),
                "moved_from_appointment": a.rescheduled_from_id,
            }
            for a in appointments
        ],
        "consultations": [
            {
                "reference": c.reference,
                "appointment": c.appointment_id,
                "doctor": _doctor(c.appointment),
                "opened_at": moment(c.opened_at, tz),
                "closed_at": moment(c.closed_at, tz),
                "summary": c.summary,
                "follow_up_days": c.follow_up_days,
                "chat": [
                    {
                        "at": moment(m.created_at, tz),
                        "from": "you" if m.direction == "to_doctor" else "doctor",
                        "kind": m.kind,
                        "text": m.content,
                        "files": len(_file_list(m.files)),
                        "edited_at": moment(m.edited_at, tz),
                        "delivered": bool(m.delivered),
                    }
                    for m in chat[c.id]
                ],
            }
            for c in consultations
        ],
        "prescriptions": [
            {
                "consultation": reference[p.consultation_id],
                **prescription_item(p),
                "written_at": moment(p.created_at, tz),
            }
            for p in prescriptions
        ],
        "feedback": [
            {
                "appointment": f.appointment_id,
                "rating": f.rating,
                "comment": f.comment,
                "given_at": moment(f.created_at, tz),
            }
            for f in await privacy.feedback(user.id)
        ],
        "uploads": [
            {
                "kind": d.kind,
                "file_name": d.file_name,
                "caption": d.caption,
                "added_at": moment(d.created_at, tz),
            }
            for d in await privacy.documents(user.id)
        ],
        "payments": [
            {
                "appointment": p.appointment_id,
                "amount_minor": p.amount_minor,
                "currency": p.currency,
                "status": p.status,
                "invoiced_at": moment(p.invoiced_at, tz),
                "paid_at": moment(p.paid_at, tz),
                "refund_status": p.refund_status,
                "refund_minor": p.refund_minor,
                "refunded_at": moment(p.refunded_at, tz),
            }
            for p in await privacy.payments(user.id)
        ],
    }


def _file_list(files: str | None) -> list[object]:
    if not files:
        return []
    try:
        loaded = json.loads(files)
    except ValueError:
        return []
    return loaded if isinstance(loaded, list) else []


def export_json(data: Data) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")


# The readable copy ---------------------------------------------------------------------------


def _status(t: Translator, status: str) -> str:
    return {
        "held": t("awaiting payment"),
        "booked": t("booked"),
        "cancelled": t("cancelled"),
        "rescheduled": t("moved"),
        "in_consultation": t("in progress"),
        "completed": t("completed"),
        "no_show": t("missed"),
        "expired": t("not paid in time"),
    }.get(status, status)


def _local(value: Mapping[str, str] | None, language: str, tz: str) -> str:
    if not value:
        return "—"
    return when(datetime.fromisoformat(value["utc"].replace("Z", "+00:00")), tz, language)


def export_pdf(t: Translator, data: Data, clinic_name: str) -> bytes:
    """The same data as the JSON, laid out to read (every text in the patient's language)."""
    profile = data["profile"]
    tz, language = profile["timezone"], t.language
    writer = PdfWriter(plain(t("Your data")), clinic_name)
    clean, line, say = writer.clean, writer.line, writer.say

    def at(value: Mapping[str, str] | None) -> str:
        return _local(value, language, tz)

    def heading(text: str) -> None:
        writer.pdf.ln(2)
        line(say(text), size=13, bold=True, gap=1)

    writer.begin(
        say(
            t(
                "{clinic} · your data, exported {date}",
                clinic=clinic_name,
                date=at(data["exported_at"]),
            )
        )
    )
    writer.pdf.set_text_color(20, 60, 110)
    line(clean(clinic_name), size=16, bold=True, gap=1)
    writer.pdf.set_text_color(0, 0, 0)
    line(say(t("Everything the clinic holds about you")), size=13, bold=True, gap=1)
    line(say(t("Times are in {zone}.", zone=tz)), gap=2)

    heading(t("Profile"))
    line(say(t("Name: {name}", name=profile["full_name"] or "—")))
    line(say(t("Date of birth: {dob}", dob=profile["date_of_birth"] or "—")))
    line(say(t("Phone: {phone}", phone=profile["phone"] or "—")))
    line(say(t("Language: {language}", language=profile["language"])))
    line(say(t("Time zone: {zone}", zone=tz)))
    consent = profile["consent"]
    line(
        say(
            t(
                "Consent to data processing: version {version}, given {date}",
                version=consent["version"] or "—",
                date=at(consent["given_at"]),
            )
        )
    )

    heading(t("Appointments"))
    if not data["appointments"]:
        line(say(t("None.")))
    for item in data["appointments"]:
        line(
            say(
                t(
                    "{when} — {doctor} ({specialty}) — {status}",
                    when=at(item["starts_at"]),
                    doctor=item["doctor"]["name"] or "?",
                    specialty=item["doctor"]["specialty"],
                    status=_status(t, item["status"]),
                )
            ),
            bold=True,
        )
        if item["reason"]:
            line(say(t("Reason: {reason}", reason=item["reason"])))
        writer.pdf.ln(1)

    heading(t("Consultations"))
    if not data["consultations"]:
        line(say(t("None.")))
    for item in data["consultations"]:
        line(
            say(
                t(
                    "{when} — {doctor} — ref. {reference}",
                    when=at(item["opened_at"]),
                    doctor=item["doctor"]["name"] or "?",
                    reference=item["reference"],
                )
            ),
            bold=True,
        )
        line(say(t("Summary: {summary}", summary=item["summary"] or "—")))
        for message in item["chat"]:
            sender = t("You") if message["from"] == "you" else t("Doctor")
            text = message["text"] or ""
            if message["kind"] != "text":
                text = f"[{message['kind']}] {text}".strip()
            line(
                say(t("{time} {sender}: {text}", time=at(message["at"]), sender=sender, text=text)),
                size=9,
            )
        writer.pdf.ln(2)

    heading(t("Prescriptions"))
    _prescriptions(t, writer, data["prescriptions"])

    heading(t("Your ratings"))
    if not data["feedback"]:
        line(say(t("None.")))
    for item in data["feedback"]:
        line(
            say(
                t(
                    "{date}: {rating} of 5 {comment}",
                    date=at(item["given_at"]),
                    rating=item["rating"],
                    comment=item["comment"] or "",
                )
            )
        )

    heading(t("Documents you added"))
    if not data["uploads"]:
        line(say(t("None.")))
    for item in data["uploads"]:
        name = item["file_name"] or item["kind"]
        line(
            say(
                t(
                    "{date}: {name} {caption}",
                    date=at(item["added_at"]),
                    name=name,
                    caption=item["caption"] or "",
                )
            )
        )

    heading(t("Payments"))
    if not data["payments"]:
        line(say(t("None.")))
    for item in data["payments"]:
        line(
            say(
                t(
                    "{date}: {amount} — {status}",
                    date=at(item["invoiced_at"]),
                    amount=money(item["amount_minor"], item["currency"], language),
                    status=item["status"],
                )
            )
        )
    return writer.output()


def _prescriptions(t: Translator, writer: PdfWriter, items: Sequence[Mapping[str, Any]]) -> None:
    say = writer.say
    if not items:
        writer.line(say(t("None.")))
    for item in items:
        writer.line(
            say(
                t(
                    "{medicine} {strength} (ref. {reference})",
                    medicine=item["medicine"],
                    strength=item["strength"],
                    reference=item["consultation"],
                )
            ),
            bold=True,
        )
        writer.line(
            say(
                t(
                    "{dose}, {frequency}, for {duration}",
                    dose=item["dose"],
                    frequency=item["frequency"],
                    duration=item["duration"],
                )
            )
        )
        if item["instructions"]:
            writer.line(say(t("Instructions: {instructions}", instructions=item["instructions"])))
        writer.pdf.ln(1)


# /export ---------------------------------------------------------------------------------------


async def begin(turn: Turn) -> None:
    t, user = turn.t, turn.user
    assert user is not None  # the router lets registered patients alone send /export
    data = await collect(turn.uow, user, turn.now)
    turn.uow.audit.record(turn.event.user_id, user.id, AUDIT_ACTION, "json+pdf", True, turn.now)
    stamp = turn.now.astimezone(zone(user.timezone)).strftime("%Y-%m-%d")
    # Drawing takes a moment of CPU: off the event loop, from plain values only.
    pdf = await asyncio.to_thread(functools.partial(export_pdf, t, data, turn.config.clinic_name))
    turn.reply(
        t(
            "Here is everything the clinic holds about you: a JSON file (for another service "
            "or app) and a PDF to read. They contain your health information: keep them safe."
        )
    )
    turn.send_document(
        Document(f"my-data-{stamp}.json", export_json(data), JSON_MIME), t("Your data (JSON)")
    )
    turn.send_document(Document(f"my-data-{stamp}.pdf", pdf, PDF_MIME), t("Your data (PDF)"))
