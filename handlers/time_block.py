"""A doctor takes one free slot out of the calendar ("Block a time" under /agenda).

```mermaid
stateDiagram-v2
    [*] --> day: Block a time
    day --> slot: a day (today and the next 6)
    slot --> day: Other day
    slot --> [*]: a free time (blocked; patients can no longer book it)
```
Slots are the doctor's free slots that day, shown in the doctor's zone; the chosen one is
checked again against free time when tapped. /cancel leaves and blocks nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum

from clinic.slots import Interval, local_to_utc
from clinic.timezones import zone
from handlers import callbacks, conversation
from handlers.doctor_access import acting_doctor
from handlers.formatting import clock, day, when
from handlers.port import InlineButton, InlineKeyboard
from handlers.scheduling import free_slots_for
from handlers.turn import Turn
from storage.models import Conversation, Doctor, TimeBlock

FLOW = "bl"
DAYS_OFFERED = 7


class Step(StrEnum):
    DAY = "day"
    SLOT = "slot"


async def begin(turn: Turn, doctor: Doctor) -> None:
    conv = await conversation.start(turn, FLOW, Step.DAY)
    ask_day(turn, conv, doctor.user.timezone)


def cancelled_text(turn: Turn) -> str:
    return turn.t("Nothing was blocked.")


def _data(conv: Conversation, action: str) -> str:
    return callbacks.pack(FLOW, conv.token, conv.step, action)


def _local_day_start(now: datetime, zone_name: str, offset: int) -> datetime:
    today = now.astimezone(zone(zone_name)).date()
    return local_to_utc(today + timedelta(days=offset), datetime.min.time(), zone(zone_name))


def ask_day(turn: Turn, conv: Conversation, zone_name: str) -> None:
    t = turn.t
    buttons = [
        InlineButton(
            day(
                _local_day_start(turn.now, zone_name, i) + timedelta(hours=12),
                zone_name,
                t.language,
            ),
            _data(conv, f"d{i}"),
        )
        for i in range(DAYS_OFFERED)
    ]
    rows = tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))
    turn.reply(t("Which day do you want to block a time on?"), InlineKeyboard(rows))


def ask(turn: Turn, conv: Conversation) -> None:
    turn.reply(turn.t("Please choose with the buttons above, or send /cancel."))


async def _day_slots(turn: Turn, doctor: Doctor, offset: int) -> list[Interval]:
    zone_name = doctor.user.timezone
    window = Interval(
        _local_day_start(turn.now, zone_name, offset),
        _local_day_start(turn.now, zone_name, offset + 1),
    )
    return [
        s for s in await free_slots_for(turn.uow, doctor, turn.now, window) if s.start < window.end
    ]


async def on_message(turn: Turn, conv: Conversation) -> None:
    ask(turn, conv)


async def on_callback(turn: Turn, conv: Conversation, callback: callbacks.Callback) -> None:
    t, action, message_id = turn.t, callback.action, turn.event.message_id
    doctor = await acting_doctor(turn)
    if doctor is None:
        await conversation.end(turn)
        turn.answer(t("This button is not valid."))
        return
    zone_name = doctor.user.timezone
    if conv.step == Step.DAY and action[:1] == "d" and action[1:].isdigit():
        offset = int(action[1:])
        if offset >= DAYS_OFFERED:
            turn.answer(t("This button is not valid."))
            return
        turn.answer()
        slots = await _day_slots(turn, doctor, offset)
        shown_day = day(
            _local_day_start(turn.now, zone_name, offset) + timedelta(hours=12),
            zone_name,
            t.language,
        )
        if not slots:
            if message_id:
                turn.edit(message_id, t("Which day do you want to block a time on?"))
            turn.reply(
                t("There are no free times on {day}. Please choose another day.", day=shown_day)
            )
            ask_day(turn, conv, zone_name)
            return
        conv.data["day"] = offset
        await conversation.move(turn, conv, Step.SLOT)
        buttons = [
            InlineButton(
                clock(s.start, zone_name, t.language),
                _data(conv, f"t{int(s.start.timestamp()) // 60}"),
            )
            for s in slots[:80]
        ]
        rows = [tuple(buttons[i : i + 4]) for i in range(0, len(buttons), 4)]
        rows.append((InlineButton(t("Other day"), _data(conv, "back")),))
        if message_id:
            turn.edit(message_id, t("Day: {day}", day=shown_day))
        turn.reply(
            t(
                "Which time on {day} do you want to block? (times in {tz})",
                day=shown_day,
                tz=zone_name,
            ),
            InlineKeyboard(tuple(rows)),
        )
        return
    if conv.step == Step.SLOT and action == "back":
        turn.answer()
        await conversation.move(turn, conv, Step.DAY)
        ask_day(turn, conv, zone_name)
        return
    if conv.step == Step.SLOT and action[:1] == "t" and action[1:].isdigit():
        start = datetime.fromtimestamp(int(action[1:]) * 60, tz=UTC)
        slots = await _day_slots(turn, doctor, int(conv.data.get("day", 0)))
        slot = next((s for s in slots if s.start == start), None)
        if slot is None:
            turn.answer(t("That time is no longer free. Please choose another."), alert=True)
            return
        turn.uow.schedules.add_block(
            TimeBlock(doctor_id=doctor.id, starts_at=slot.start, ends_at=slot.end)
        )
        await conversation.end(turn)
        turn.answer(t("Blocked."))
        shown = when(slot.start, zone_name, t.language)
        if message_id:
            turn.edit(message_id, t("Blocked: {when}.", when=shown))
        turn.reply(
            t(
                "{when} is blocked: patients cannot book it. Send /agenda to see your days.",
                when=shown,
            )
        )
        return
    turn.answer(t("This button is no longer active."))
