"""/end: the doctor wraps up a consultation: summary, private notes, prescriptions, follow-up.

```mermaid
stateDiagram-v2
    [*] --> summary: /end (one consultation open)
    [*] --> pick: /end (several open)
    pick --> summary: a consultation
    summary --> notes
    notes --> rx: typed or Skip
    rx --> med: Add a prescription / Add another
    med --> strength
    strength --> dose
    dose --> freq
    freq --> dur
    dur --> instr
    instr --> rx: typed or Skip
    med --> rx: Discard (from any prescription field)
    rx --> rx: Remove #n
    rx --> follow: Done
    follow --> review: 7 / 14 / 30 / 90 days or Skip
    review --> summary: Edit summary
    review --> notes: Edit notes
    review --> rx: Edit prescriptions
    review --> follow: Edit follow-up
    review --> [*]: Send to patient (saved, closed, appointment completed)
```
The draft lives in the conversation row (sealed), so a restart or another worker continues it;
/cancel leaves with nothing saved and the consultation still open. Only "Send to patient"
writes: the summary, notes and follow-up on the consultation, one row per prescription, the
appointment moved to completed through the lifecycle, and the patient told (message and PDF).
Private notes never leave the doctor's side.
"""

from __future__ import annotations

import asyncio
import functools
import html
import re
import secrets
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from babel.dates import format_date
from babel.numbers import format_decimal

from clinic.appointments import InvalidTransition, Status, transition
from clinic.roles import Role
from clinic.timezones import zone
from handlers import callbacks, conversation
from handlers import consultation as relay
from handlers.formatting import when
from handlers.i18n import Html, Translator, plain, translator
from handlers.port import InlineButton, InlineKeyboard
from handlers.prescription_pdf import prescription_pdf
from handlers.turn import Turn
from storage.models import Consultation, Conversation, Doctor, Prescription

FLOW = "wu"
SUMMARY_MAX = 3000
NOTES_MAX = 3000
PRESCRIPTIONS_MAX = 10
FOLLOW_UP_DAYS = (7, 14, 30, 90)
TEXT_LIMIT = 4096  # Telegram's limit on a message's visible text
SHORT = 60  # characters of a field shown in the compact prescription list


class Step(StrEnum):
    PICK = "pick"
    SUMMARY = "summary"
    NOTES = "notes"
    MEDICINE = "med"
    STRENGTH = "strength"
    DOSE = "dose"
    FREQUENCY = "freq"
    DURATION = "dur"
    INSTRUCTIONS = "instr"
    PRESCRIPTIONS = "rx"
    FOLLOW_UP = "follow"
    REVIEW = "review"


# A prescription's fields in the order they are asked: (step, key in the draft, longest).
FIELDS: tuple[tuple[Step, str, int], ...] = (
    (Step.MEDICINE, "medicine", 200),
    (Step.STRENGTH, "strength", 100),
    (Step.DOSE, "dose", 200),
    (Step.FREQUENCY, "frequency", 200),
    (Step.DURATION, "duration", 100),
    (Step.INSTRUCTIONS, "instructions", 500),
)
FIELD_STEPS = tuple(step for step, _, _ in FIELDS)


def _pack(conv: Conversation, action: str) -> str:
    return callbacks.pack(FLOW, conv.token, conv.step, action)


def cancelled_text(turn: Turn) -> str:
    return turn.t(
        "Wrap-up stopped. Nothing was saved or sent, and the consultation is still open: "
        "send /end when you are ready."
    )


# Who and what ---------------------------------------------------------------------------------


async def _doctor(turn: Turn) -> Doctor | None:
    if turn.user is None or turn.user.role != Role.DOCTOR.value:
        return None
    return await turn.uow.doctors.by_user(turn.user.id)


async def _own_open(turn: Turn, consultation_id: object) -> Consultation | None:
    """The consultation, if it is still open and this doctor's own; else None."""
    if not str(consultation_id).isdigit():
        return None
    doctor = await _doctor(turn)
    consultation = await turn.uow.consultations.get(int(str(consultation_id)))
    if doctor is None or consultation is None or consultation.closed_at is not None:
        return None
    if consultation.appointment.doctor_id != doctor.id:
        return None
    return consultation


def _about(consultation: Consultation) -> dict[str, Any]:
    return {
        "cid": consultation.id,
        "patient": consultation.appointment.patient.full_name or "?",
        "ref": consultation.reference,
    }


# Entry ----------------------------------------------------------------------------------------


async def begin(turn: Turn) -> None:
    t, conv = turn.t, turn.conversation
    ours = conv is not None and conv.flow == FLOW
    if conv is not None and ours and await _own_open(turn, conv.data.get("cid")) is not None:
        turn.reply(t("Let's continue the wrap-up where you left off."))
        ask(turn, conv)
        return
    doctor = await _doctor(turn)
    open_ones = list(await turn.uow.consultations.open_for_doctor(doctor.id)) if doctor else []
    if not open_ones:
        if ours:
            await conversation.end(turn)
        turn.reply(t("No consultation is open."))
        return
    if len(open_ones) == 1:
        conv = await conversation.start(turn, FLOW, Step.SUMMARY, _about(open_ones[0]))
    else:
        zone_name = turn.zone_name
        choices = [
            [
                c.id,
                plain(
                    t(
                        "{patient} · {when}",
                        patient=c.appointment.patient.full_name or "?",
                        when=when(c.appointment.starts_at, zone_name, t.language),
                    )
                ),
            ]
            for c in open_ones
        ]
        conv = await conversation.start(turn, FLOW, Step.PICK, {"choices": choices})
    ask(turn, conv)


# Questions ------------------------------------------------------------------------------------


def ask(turn: Turn, conv: Conversation) -> None:
    """Put the current step's question (also used to resume after a restart)."""
    for text, markup in _prompt(turn, conv):
        turn.reply(text, markup)


def _prompt(turn: Turn, conv: Conversation) -> list[tuple[str, InlineKeyboard | None]]:
    """The messages that ask the current step; buttons, if any, are on the last one."""
    t, data, step = turn.t, conv.data, Step(conv.step)
    if step is Step.PICK:
        rows = tuple(
            (InlineButton(str(label), _pack(conv, f"c{ident}")),)
            for ident, label in data.get("choices", [])
        )
        return [(t("Several consultations are open. Which one do you want to wrap up?"), _kb(rows))]
    if step is Step.SUMMARY:
        if data.get("editing") and data.get("summary"):
            text = t(
                "Send the new summary for the patient (up to {limit} characters). The current "
                "one:\n\n{summary}",
                limit=_number(SUMMARY_MAX, t.language),
                summary=data["summary"],
            )
        else:
            text = t(
                "Wrapping up the consultation with {patient} (ref. {reference}).\n\n"
                "1/4 · Write the <b>summary for the patient</b>: what you found and what they "
                "should do (up to {limit} characters). They get it as a message and as a PDF.\n\n"
                "While you wrap up, what you type here goes into the wrap-up; to answer the "
                "patient, reply to one of their messages. /cancel leaves without saving anything.",
                patient=data.get("patient", "?"),
                reference=data.get("ref", ""),
                limit=_number(SUMMARY_MAX, t.language),
            )
        return [(text, None)]
    if step is Step.NOTES:
        text = t(
            "2/4 · <b>Private notes</b> (optional): only doctors ever see them, never the "
            "patient. Type them, or tap Skip."
        )
        if data.get("editing") and data.get("notes"):
            text += "\n\n" + t("The current notes:\n\n{notes}", notes=data["notes"])
        return [(text, _kb(((InlineButton(t("Skip"), _pack(conv, "skip")),),)))]
    if step in FIELD_STEPS:
        return [_field_prompt(turn, conv, step)]
    if step is Step.PRESCRIPTIONS:
        return [_prescriptions_prompt(turn, conv)]
    if step is Step.FOLLOW_UP:
        days = tuple(
            InlineButton(t("{days} days", days=d), _pack(conv, f"f{d}")) for d in FOLLOW_UP_DAYS
        )
        return [
            (
                t("4/4 · Should the patient book again? Advise a follow-up consultation in:"),
                _kb((days, (InlineButton(t("No follow-up"), _pack(conv, "skip")),))),
            )
        ]
    return _review_prompt(turn, conv)


def _number(value: int, language: str) -> str:
    """3,000 written the way the doctor's language writes it."""
    return format_decimal(value, locale=language)


def _kb(rows: tuple[tuple[InlineButton, ...], ...]) -> InlineKeyboard:
    return InlineKeyboard(rows)


def _field_prompt(turn: Turn, conv: Conversation, step: Step) -> tuple[str, InlineKeyboard]:
    t = turn.t
    number = len(conv.data.get("rx", [])) + 1
    if step is Step.MEDICINE:
        question = t(
            "Prescription #{number}: the <b>medicine</b> (e.g. Amoxicillin)?", number=number
        )
    elif step is Step.STRENGTH:
        question = t("Its <b>strength</b> (e.g. 500 mg)?")
    elif step is Step.DOSE:
        question = t("The <b>dose</b> each time (e.g. 1 tablet)?")
    elif step is Step.FREQUENCY:
        question = t("<b>How often</b> (e.g. 3 times a day)?")
    elif step is Step.DURATION:
        question = t("<b>For how long</b> (e.g. 7 days)?")
    else:
        question = t("<b>Instructions</b> for the patient (e.g. after meals), or tap Skip.")
    rows: list[tuple[InlineButton, ...]] = []
    if step is Step.INSTRUCTIONS:
        rows.append((InlineButton(t("Skip"), _pack(conv, "skip")),))
    rows.append((InlineButton(t("Discard this prescription"), _pack(conv, "drop")),))
    return question, _kb(tuple(rows))


def _short(value: object, limit: int = SHORT) -> str:
    text = str(value or "")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _rx_list(t: Translator, items: Sequence[Mapping[str, Any]]) -> str:
    """One short line a prescription, for the list the doctor edits."""
    return "\n".join(
        t(
            "{number}. <b>{medicine}</b> {strength} — {dose}, {frequency}, {duration}",
            number=number,
            medicine=_short(item.get("medicine")),
            strength=_short(item.get("strength")),
            dose=_short(item.get("dose")),
            frequency=_short(item.get("frequency")),
            duration=_short(item.get("duration")),
        )
        for number, item in enumerate(items, start=1)
    )


def _prescriptions_text(turn: Turn, conv: Conversation) -> str:
    t, items = turn.t, conv.data.get("rx", [])
    if not items:
        return t(
            "3/4 · <b>Prescriptions</b>: none yet. Add one, or tap Done if there is nothing to "
            "prescribe."
        )
    text = t(
        "3/4 · <b>Prescriptions</b> so far:\n\n{list}\n\nAdd another, remove one, or tap Done.",
        list=Html(_rx_list(t, items)),
    )
    if len(items) >= PRESCRIPTIONS_MAX:
        text += "\n\n" + t(
            "That is the most one wrap-up can hold ({limit}).", limit=PRESCRIPTIONS_MAX
        )
    return text


def _prescriptions_prompt(turn: Turn, conv: Conversation) -> tuple[str, InlineKeyboard]:
    t, items = turn.t, conv.data.get("rx", [])
    rows: list[tuple[InlineButton, ...]] = []
    if len(items) < PRESCRIPTIONS_MAX:
        label = t("➕ Add another") if items else t("➕ Add a prescription")
        rows.append((InlineButton(label, _pack(conv, "add")),))
    removes = [
        InlineButton(t("Remove #{number}", number=n), _pack(conv, f"rm-{item['key']}"))
        for n, item in enumerate(items, start=1)
    ]
    rows.extend(tuple(removes[i : i + 3]) for i in range(0, len(removes), 3))
    rows.append((InlineButton(t("Done"), _pack(conv, "done")),))
    return _prescriptions_text(turn, conv), _kb(tuple(rows))


def rx_block(t: Translator, number: int, item: Mapping[str, Any]) -> str:
    """One prescription in full, as HTML (user text escaped by the translator)."""
    text = t(
        "<b>{number}. {medicine}</b> {strength}\nDose: {dose}\nHow often: {frequency}\n"
        "For how long: {duration}",
        number=number,
        medicine=item.get("medicine", ""),
        strength=item.get("strength", ""),
        dose=item.get("dose", ""),
        frequency=item.get("frequency", ""),
        duration=item.get("duration", ""),
    )
    if item.get("instructions"):
        text += "\n" + t("Instructions: {instructions}", instructions=item["instructions"])
    return text


def _review_blocks(turn: Turn, conv: Conversation) -> list[str]:
    t, data = turn.t, conv.data
    blocks = [
        t(
            "<b>Please check the wrap-up</b> for {patient} (ref. {reference}) before it is sent.",
            patient=data.get("patient", "?"),
            reference=data.get("ref", ""),
        ),
        t("<b>Summary for the patient</b>\n{summary}", summary=data.get("summary", "")),
    ]
    if data.get("notes"):
        blocks.append(
            t("<b>Private notes</b> (only doctors see them)\n{notes}", notes=data["notes"])
        )
    else:
        blocks.append(t("<b>Private notes</b>: none"))
    items = data.get("rx", [])
    if items:
        blocks.append(t("<b>Prescriptions</b>"))
        blocks.extend(rx_block(t, n, item) for n, item in enumerate(items, start=1))
    else:
        blocks.append(t("<b>Prescriptions</b>: none"))
    if data.get("follow"):
        blocks.append(t("<b>Follow-up</b>: in {days} days", days=data["follow"]))
    else:
        blocks.append(t("<b>Follow-up</b>: none"))
    return blocks


def _review_prompt(turn: Turn, conv: Conversation) -> list[tuple[str, InlineKeyboard | None]]:
    t = turn.t
    keyboard = _kb(
        (
            (InlineButton(t("📨 Send to patient"), _pack(conv, "send")),),
            (
                InlineButton(t("Edit summary"), _pack(conv, "e-summary")),
                InlineButton(t("Edit notes"), _pack(conv, "e-notes")),
            ),
            (
                InlineButton(t("Edit prescriptions"), _pack(conv, "e-rx")),
                InlineButton(t("Edit follow-up"), _pack(conv, "e-follow")),
            ),
        )
    )
    chunks = chunked(_review_blocks(turn, conv))
    return [(c, keyboard if i == len(chunks) - 1 else None) for i, c in enumerate(chunks)]


def _visible_length(text: str) -> int:
    return len(html.unescape(re.sub(r"<[^>]*>", "", text)))


def chunked(blocks: Sequence[str], limit: int = TEXT_LIMIT - 96) -> list[str]:
    """Whole blocks packed into as few messages as Telegram's text limit allows."""
    chunks: list[str] = []
    for block in blocks:
        if chunks and _visible_length(chunks[-1]) + 2 + _visible_length(block) <= limit:
            chunks[-1] += "\n\n" + block
        else:
            chunks.append(block)
    return chunks


# Answers --------------------------------------------------------------------------------------


def _read_text(turn: Turn, limit: int, multiline: bool) -> str | None:
    """The typed answer, cleaned; None after telling the doctor what was wrong."""
    t, text = turn.t, turn.event.text
    if text is None:
        turn.reply(
            t(
                "Please type this as text: photos, files and stickers cannot go into the "
                "wrap-up. Nothing you entered so far is lost."
            )
        )
        return None
    if multiline:
        lines = [" ".join(line.split()) for line in text.strip().splitlines()]
        cleaned = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    else:
        cleaned = " ".join(text.split())
    if not cleaned:
        turn.reply(t("That was empty. Please type it again."))
        return None
    if len(cleaned) > limit:
        turn.reply(
            t(
                "That is too long: please keep it under {limit} characters (yours has "
                "{length}). Nothing you entered so far is lost.",
                limit=_number(limit, t.language),
                length=_number(len(cleaned), t.language),
            )
        )
        return None
    return cleaned


async def on_message(turn: Turn, conv: Conversation) -> None:
    step, t, data = Step(conv.step), turn.t, conv.data
    if await _is_reply_to_patient(turn) and await relay.on_message(turn):
        return  # a reply to a relayed message still answers the patient, as in the visit
    if step is Step.SUMMARY:
        summary = _read_text(turn, SUMMARY_MAX, multiline=True)
        if summary is not None:
            data["summary"] = summary
            await _after_answer(turn, conv, Step.NOTES)
        return
    if step is Step.NOTES:
        notes = _read_text(turn, NOTES_MAX, multiline=True)
        if notes is not None:
            data["notes"] = notes
            await _after_answer(turn, conv, Step.PRESCRIPTIONS)
        return
    if step in FIELD_STEPS:
        index = FIELD_STEPS.index(step)
        _, key, limit = FIELDS[index]
        value = _read_text(turn, limit, multiline=False)
        if value is not None:
            data["cur"] = {**data.get("cur", {}), key: value}
            await _next_field(turn, conv, index)
        return
    turn.reply(t("Please use the buttons above, or send /cancel to stop the wrap-up."))


async def _is_reply_to_patient(turn: Turn) -> bool:
    event = turn.event
    if event.reply_to_message_id is None:
        return False
    mapped = await turn.uow.consultations.relayed_at(event.chat_id, event.reply_to_message_id)
    return mapped is not None


async def _after_answer(turn: Turn, conv: Conversation, following: Step) -> None:
    """Back to the review when editing, else on to the next step."""
    if conv.data.get("editing"):
        conv.data["editing"] = False
        await conversation.move(turn, conv, Step.REVIEW)
    else:
        await conversation.move(turn, conv, following)
    ask(turn, conv)


async def _next_field(turn: Turn, conv: Conversation, index: int) -> None:
    if index + 1 < len(FIELD_STEPS):
        await conversation.move(turn, conv, FIELD_STEPS[index + 1])
    else:
        _keep_current(conv)
        await conversation.move(turn, conv, Step.PRESCRIPTIONS)
    ask(turn, conv)


def _keep_current(conv: Conversation) -> None:
    current = dict(conv.data.get("cur", {}))
    current.setdefault("instructions", None)
    current["key"] = secrets.token_hex(3)
    conv.data["rx"] = [*conv.data.get("rx", []), current]
    conv.data["cur"] = {}


async def on_callback(turn: Turn, conv: Conversation, callback: callbacks.Callback) -> None:
    step, t, action = Step(conv.step), turn.t, callback.action
    message_id = turn.event.message_id
    data = conv.data

    def settle(text: str) -> None:
        """The tapped message keeps a record of the choice and loses its buttons."""
        if message_id:
            turn.edit(message_id, text)

    if step is Step.PICK and action.startswith("c"):
        chosen = next((c for c in data.get("choices", []) if f"c{c[0]}" == action), None)
        consultation = await _own_open(turn, chosen[0]) if chosen else None
        if consultation is None:
            turn.answer(t("This consultation is no longer open."), alert=True)
            return
        turn.answer()
        conv.data = {**_about(consultation)}
        settle(t("Wrapping up: {patient}.", patient=conv.data["patient"]))
        await conversation.move(turn, conv, Step.SUMMARY)
        ask(turn, conv)
        return
    if step is Step.NOTES and action == "skip":
        turn.answer()
        data["notes"] = None
        settle(t("Private notes: none."))
        await _after_answer(turn, conv, Step.PRESCRIPTIONS)
        return
    if step in FIELD_STEPS and action == "drop":
        turn.answer()
        data["cur"] = {}
        settle(t("Prescription discarded."))
        await conversation.move(turn, conv, Step.PRESCRIPTIONS)
        ask(turn, conv)
        return
    if step is Step.INSTRUCTIONS and action == "skip":
        turn.answer()
        settle(t("Instructions: none."))
        data["cur"] = {**data.get("cur", {}), "instructions": None}
        await _next_field(turn, conv, FIELD_STEPS.index(step))
        return
    if step is Step.PRESCRIPTIONS:
        await _on_prescriptions(turn, conv, action, settle)
        return
    if step is Step.FOLLOW_UP and (action == "skip" or action in {f"f{d}" for d in FOLLOW_UP_DAYS}):
        turn.answer()
        data["follow"] = None if action == "skip" else int(action[1:])
        settle(
            t("Follow-up: in {days} days.", days=data["follow"])
            if data["follow"]
            else t("Follow-up: none.")
        )
        data["editing"] = False
        await conversation.move(turn, conv, Step.REVIEW)
        ask(turn, conv)
        return
    if step is Step.REVIEW and action == "send":
        await _send(turn, conv)
        return
    edits = {
        "e-summary": Step.SUMMARY,
        "e-notes": Step.NOTES,
        "e-rx": Step.PRESCRIPTIONS,
        "e-follow": Step.FOLLOW_UP,
    }
    if step is Step.REVIEW and action in edits:
        turn.answer()
        settle(_prompt(turn, conv)[-1][0])  # the same text, buttons gone
        data["editing"] = True
        await conversation.move(turn, conv, edits[action])
        ask(turn, conv)
        return
    turn.answer(t("This button is no longer active."))


async def _on_prescriptions(turn: Turn, conv: Conversation, action: str, settle: Any) -> None:
    t, data = turn.t, conv.data
    items = list(data.get("rx", []))
    if action == "add" and len(items) < PRESCRIPTIONS_MAX:
        turn.answer()
        settle(_prescriptions_text(turn, conv))
        data["cur"] = {}
        await conversation.move(turn, conv, Step.MEDICINE)
        ask(turn, conv)
        return
    if action.startswith("rm-"):
        index = next((i for i, item in enumerate(items) if item.get("key") == action[3:]), None)
        if index is None:
            turn.answer(t("That prescription was already removed."))
            return
        removed = items.pop(index)
        turn.answer(t("Removed"))
        settle(
            t(
                "Removed prescription #{number}: {medicine} {strength}.",
                number=index + 1,
                medicine=removed.get("medicine", ""),
                strength=removed.get("strength", ""),
            )
        )
        data["rx"] = items
        await conversation.move(turn, conv, Step.PRESCRIPTIONS)
        ask(turn, conv)
        return
    if action == "done":
        turn.answer()
        settle(_prescriptions_text(turn, conv))
        if data.get("editing"):
            data["editing"] = False
            await conversation.move(turn, conv, Step.REVIEW)
        else:
            await conversation.move(turn, conv, Step.FOLLOW_UP)
        ask(turn, conv)
        return
    turn.answer(t("This button is no longer active."))


# Sending --------------------------------------------------------------------------------------


async def _send(turn: Turn, conv: Conversation) -> None:
    t, data, now = turn.t, dict(conv.data), turn.now
    consultation = await _own_open(turn, data.get("cid"))
    if consultation is None:
        await conversation.end(turn)
        turn.answer(t("This consultation is no longer open."), alert=True)
        turn.reply(t("This consultation was already closed: nothing was sent."))
        return
    if not data.get("summary"):
        turn.answer()
        await conversation.move(turn, conv, Step.SUMMARY)
        ask(turn, conv)
        return
    appointment = consultation.appointment
    try:
        appointment.status = transition(appointment.status, Status.COMPLETED).value
    except InvalidTransition:
        await conversation.end(turn)
        turn.answer(t("This appointment can no longer be completed."), alert=True)
        return
    appointment.updated_at = now
    consultation.summary = str(data["summary"])
    consultation.private_notes = data.get("notes") or None
    consultation.follow_up_days = int(data["follow"]) if data.get("follow") else None
    consultation.closed_at = now
    items = [dict(item) for item in data.get("rx", [])]
    for item in items:
        turn.uow.consultations.add_prescription(
            Prescription(
                consultation_id=consultation.id,
                medicine=str(item["medicine"]),
                strength=str(item["strength"]),
                dose=str(item["dose"]),
                frequency=str(item["frequency"]),
                duration=str(item["duration"]),
                instructions=item.get("instructions") or None,
                created_at=now,
            )
        )
    doctor = appointment.doctor
    if await turn.uow.consultations.focus(doctor.id) == consultation.id:
        await turn.uow.consultations.clear_focus(doctor.id)
    # The review stays as the record of what went out: its last message loses the buttons and
    # says it was sent (the split into messages is kept, so no part of it changes place; the
    # chunks leave room for this line).
    reviewed = _prompt(turn, conv)[-1][0] + "\n\n" + t("✅ <b>Sent to the patient</b> as shown.")
    await conversation.end(turn)
    await _tell_patient(turn, consultation, items)
    turn.answer(t("Sent"))
    if turn.event.message_id:
        turn.edit(turn.event.message_id, reviewed)
    text = t(
        "✅ Sent to {patient}. The consultation (ref. {reference}) is closed and the "
        "appointment is marked completed.",
        patient=appointment.patient.full_name or "?",
        reference=consultation.reference,
    )
    others = [c for c in await turn.uow.consultations.open_for_doctor(doctor.id)]
    others = [c for c in others if c.id != consultation.id]
    if others:
        text += "\n\n" + t(
            "Other consultations still open: {count}. Send /end to wrap up the next one.",
            count=len(others),
        )
    turn.reply(text)


async def _tell_patient(
    turn: Turn, consultation: Consultation, items: Sequence[Mapping[str, Any]]
) -> None:
    """The patient's copy, in the patient's language: messages, then the PDF."""
    appointment = consultation.appointment
    patient, doctor = appointment.patient, appointment.doctor
    t = translator(patient.language)
    doctor_name = doctor.user.full_name or "?"
    blocks = patient_blocks(
        t,
        doctor_name=doctor_name,
        when_text=when(appointment.starts_at, patient.timezone, t.language),
        reference=consultation.reference,
        summary=consultation.summary or "",
        items=items,
        follow_up_days=consultation.follow_up_days,
    )
    markup = None
    if consultation.follow_up_days:
        label = plain(t("Book again with {doctor}", doctor=doctor_name))
        markup = _kb(((InlineButton(label, callbacks.pack("bk", "", "again", str(doctor.id))),),))
    # Drawing the PDF takes a moment of CPU: off the event loop, from plain values only.
    document = await asyncio.to_thread(
        functools.partial(
            prescription_pdf,
            t,
            clinic_name=turn.config.clinic_name,
            doctor_name=doctor_name,
            specialty=doctor.specialty.name,
            patient_name=patient.full_name or "?",
            issued_on=format_date(
                turn.now.astimezone(zone(patient.timezone)), "long", locale=t.language
            ),
            reference=consultation.reference,
            summary=consultation.summary or "",
            prescriptions=[dict(item) for item in items],
            follow_up_days=consultation.follow_up_days,
        )
    )
    chunks = chunked(blocks)
    for index, chunk in enumerate(chunks):
        last = index == len(chunks) - 1
        turn.notify(
            patient.telegram_id,
            chunk,
            markup if last else None,
            document if last else None,
        )


def patient_blocks(
    t: Translator,
    *,
    doctor_name: str,
    when_text: str,
    reference: str,
    summary: str,
    items: Sequence[Mapping[str, Any]],
    follow_up_days: int | None,
) -> list[str]:
    """What the patient reads: never the private notes."""
    blocks = [
        t(
            "Your consultation with {doctor} on {when} is complete (ref. {reference}).\n\n"
            "<b>Summary from your doctor</b>\n{summary}",
            doctor=doctor_name,
            when=when_text,
            reference=reference,
            summary=summary,
        )
    ]
    if items:
        blocks.append(t("<b>Your prescriptions</b>"))
        blocks.extend(rx_block(t, n, item) for n, item in enumerate(items, start=1))
    if follow_up_days:
        blocks.append(
            t(
                "{doctor} advises a follow-up consultation in {days} days: tap below to book it.",
                doctor=doctor_name,
                days=follow_up_days,
            )
        )
    if items:
        blocks.append(t("The summary and prescriptions are also in the PDF below."))
    else:
        blocks.append(t("The summary is also in the PDF below."))
    return blocks
