"""A doctor joins through an admin's one-time invite link (`/start inv_<code>`).

```mermaid
stateDiagram-v2
    [*] --> consent: /start inv_<code> (valid, unused, not expired; new user)
    [*] --> [*]: invalid / expired / used code, or already registered (nothing stored)
    consent --> [*]: I do not agree (nothing stored)
    consent --> name: I agree
    name --> spec
    spec --> bio
    bio --> len
    len --> fee
    fee --> tz
    tz --> confirm
    confirm --> name: Edit name
    confirm --> spec: Edit specialty
    confirm --> bio: Edit about
    confirm --> len: Edit length
    confirm --> fee: Edit fee
    confirm --> tz: Edit time zone
    confirm --> [*]: Confirm (doctor created as pending, invite used, admins notified)
```
Every step re-asks on bad input and keeps what was entered; /cancel leaves and stores nothing.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from clinic.roles import Role
from handlers import admin, callbacks, consent, conversation
from handlers.formatting import fee_text, parse_money, precision_of
from handlers.i18n import Html
from handlers.menu import commands_for
from handlers.port import InlineButton, InlineKeyboard, RemoveKeyboard
from handlers.profile_fields import Field, accept_message, accept_zone_button, prompt
from handlers.turn import Turn
from storage.models import Conversation, Doctor, DoctorInvite, User

FLOW = "do"
BIO_MAX = 500
LENGTHS = (15, 20, 30, 45, 60)
PAGE_SIZE = 8


class Step(StrEnum):
    CONSENT = "consent"
    NAME = "name"
    SPECIALTY = "spec"
    BIO = "bio"
    LENGTH = "len"
    FEE = "fee"
    TIMEZONE = "tz"
    CONFIRM = "confirm"


ORDER = (Step.NAME, Step.SPECIALTY, Step.BIO, Step.LENGTH, Step.FEE, Step.TIMEZONE)


def _invite_problem(turn: Turn, invite: DoctorInvite | None) -> str | None:
    t = turn.t
    if invite is None:
        return t("This invite link is not valid. Please ask the clinic for a new one.")
    if invite.used_at is not None:
        return t("This invite link has already been used. Please ask the clinic for a new one.")
    if invite.expires_at <= turn.now:
        return t("This invite link has expired. Please ask the clinic for a new one.")
    return None


async def open_invite(turn: Turn, code: str, role: Role | None) -> None:
    """The `inv` deep link: check the code and the user, then start the questions."""
    t, conv = turn.t, turn.conversation
    if role is not None or (turn.user is not None and turn.user.registered_at is not None):
        turn.reply(
            t(
                "You already have an account here, so this invite cannot be used with it. "
                "Please ask the clinic for help."
            )
        )
        return
    if conv is not None and conv.flow == FLOW and conv.data.get("invite") == code:
        turn.reply(t("Let's continue where you left off."))
        await resume(turn, conv)
        return
    invite = await turn.uow.invites.by_code(code) if code.isalnum() else None
    problem = _invite_problem(turn, invite)
    if problem is not None:
        turn.reply(problem)
        return
    if conv is not None:
        await conversation.end(turn)
    conv = await conversation.start(turn, FLOW, Step.CONSENT, {"invite": code})
    ask(turn, conv)


def cancelled_text(turn: Turn) -> str:
    return turn.t(
        "Stopped. Nothing you entered was kept. Open the invite link again to start over."
    )


def _data(conv: Conversation, action: str) -> str:
    return callbacks.pack(FLOW, conv.token, conv.step, action)


def ask(turn: Turn, conv: Conversation) -> None:
    step, t = Step(conv.step), turn.t
    if step is Step.CONSENT:
        turn.reply(
            t(
                "Welcome! The clinic invited you to consult its patients through this bot.\n\n"
                "To set up your doctor profile we store your name, specialty, a short text "
                "about you, your fee and your time zone, and later the notes you write for "
                "your patients. It is encrypted at rest. Do you agree to this processing of "
                "your data?"
            ),
            InlineKeyboard(
                (
                    (
                        InlineButton(t("✅ I agree"), _data(conv, "yes")),
                        InlineButton(t("I do not agree"), _data(conv, "no")),
                    ),
                )
            ),
        )
    elif step is Step.NAME:
        prompt(turn, conv, Field.NAME)
    elif step is Step.TIMEZONE:
        prompt(turn, conv, Field.TIMEZONE)
    elif step is Step.BIO:
        turn.reply(
            t(
                "Write a few lines about yourself for patients: experience, languages, what "
                "you help with (up to 500 characters)."
            ),
            RemoveKeyboard(),
        )
    elif step is Step.LENGTH:
        buttons = tuple(
            InlineButton(t("{minutes} min", minutes=m), _data(conv, f"m{m}")) for m in LENGTHS
        )
        turn.reply(t("How long is one consultation?"), InlineKeyboard((buttons,)))
    elif step is Step.FEE:
        whole_units = precision_of(turn.config.currency) == 0  # Stars, yen: no cents
        turn.reply(
            t(
                "What is your fee for one consultation, in {currency}? Type the amount in "
                "whole units, for example 50 (0 if it is free).",
                currency=turn.config.currency,
            )
            if whole_units
            else t(
                "What is your fee for one consultation, in {currency}? Type the amount, "
                "for example 50 or 49.90 (0 if it is free).",
                currency=turn.config.currency,
            )
        )
    elif step is Step.CONFIRM:
        turn.reply(_summary(turn, conv), _confirm_keyboard(turn, conv))
    elif step is Step.SPECIALTY:
        turn.reply(t("Please choose your specialty with the buttons above."))


async def ask_specialty(turn: Turn, conv: Conversation, page: int = 0, edit: bool = False) -> None:
    t = turn.t
    specialties = list(await turn.uow.specialties.all())
    pages = max(1, (len(specialties) + PAGE_SIZE - 1) // PAGE_SIZE)
    page = min(max(page, 0), pages - 1)
    shown = specialties[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    buttons = [InlineButton(s.name, _data(conv, f"s{s.id}")) for s in shown]
    rows: list[tuple[InlineButton, ...]] = [
        tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2)
    ]
    nav: list[InlineButton] = []
    if page > 0:
        nav.append(InlineButton(t("◀ Previous"), _data(conv, f"p{page - 1}")))
    if page < pages - 1:
        nav.append(InlineButton(t("More ▶"), _data(conv, f"p{page + 1}")))
    if nav:
        rows.append(tuple(nav))
    text = t("Which is your specialty?")
    if edit and turn.event.message_id:
        turn.edit(turn.event.message_id, text, InlineKeyboard(tuple(rows)))
    else:
        turn.reply(text, InlineKeyboard(tuple(rows)))


async def resume(turn: Turn, conv: Conversation) -> None:
    """Ask the current step again (after /start or the invite link mid-flow)."""
    await _ask(turn, conv)


async def _ask(turn: Turn, conv: Conversation) -> None:
    if conv.step == Step.SPECIALTY:
        await ask_specialty(turn, conv)
    else:
        ask(turn, conv)


def _confirm_keyboard(turn: Turn, conv: Conversation) -> InlineKeyboard:
    t = turn.t
    return InlineKeyboard(
        (
            (InlineButton(t("✅ Confirm"), _data(conv, "ok")),),
            (
                InlineButton(t("Edit name"), _data(conv, "e-name")),
                InlineButton(t("Edit specialty"), _data(conv, "e-spec")),
            ),
            (
                InlineButton(t("Edit about"), _data(conv, "e-bio")),
                InlineButton(t("Edit length"), _data(conv, "e-len")),
            ),
            (
                InlineButton(t("Edit fee"), _data(conv, "e-fee")),
                InlineButton(t("Edit time zone"), _data(conv, "e-tz")),
            ),
        )
    )


def _summary(turn: Turn, conv: Conversation) -> str:
    t, data = turn.t, conv.data
    details = t(
        "<b>Name:</b> {name}\n<b>Specialty:</b> {specialty}\n<b>About:</b> {bio}\n"
        "<b>Consultation length:</b> {minutes} min\n<b>Fee:</b> {fee}\n<b>Time zone:</b> {tz}",
        name=data.get("name") or "—",
        specialty=data.get("spec_name") or "—",
        bio=data.get("bio") or "—",
        minutes=data.get("len") or "—",
        fee=fee_text(t, int(data["fee"]), turn.config.currency) if "fee" in data else "—",
        tz=data.get("tz") or "—",
    )
    return t("Please check your doctor profile:\n\n{details}", details=Html(details))


async def _advance(turn: Turn, conv: Conversation) -> None:
    step = Step(conv.step)
    if conv.data.get("editing") or step is Step.TIMEZONE:
        conv.data.pop("editing", None)
        await conversation.move(turn, conv, Step.CONFIRM)
    else:
        await conversation.move(turn, conv, ORDER[ORDER.index(step) + 1])
    await _ask(turn, conv)


async def on_message(turn: Turn, conv: Conversation) -> None:
    step, t, text = Step(conv.step), turn.t, turn.event.text
    if step is Step.CONSENT:
        turn.reply(t("Please tap “I agree” or “I do not agree” on the message above."))
        return
    if step is Step.CONFIRM:
        turn.reply(t("Please tap “Confirm” to finish, or one of the edit buttons above."))
        return
    if step in (Step.SPECIALTY, Step.LENGTH):
        turn.reply(t("Please choose one of the buttons above."))
        return
    if step is Step.NAME:
        accepted = await accept_message(turn, conv, Field.NAME)
    elif step is Step.TIMEZONE:
        accepted = await accept_message(turn, conv, Field.TIMEZONE)
    elif step is Step.BIO:
        accepted = _accept_bio(turn, conv, text)
    else:
        accepted = _accept_fee(turn, conv, text)
    if accepted:
        await _advance(turn, conv)
    else:
        await conversation.move(turn, conv, step)


def _accept_bio(turn: Turn, conv: Conversation, text: str | None) -> bool:
    t = turn.t
    if text is None:
        turn.reply(t("Please write the text about yourself as a message (text only)."))
        return False
    bio = text.strip()
    if not bio:
        turn.reply(t("The text is empty. Please write a few lines about yourself."))
        return False
    if len(bio) > BIO_MAX:
        turn.reply(
            t(
                "That is {length} characters; the limit is 500. Please shorten it and send "
                "it again.",
                length=len(bio),
            )
        )
        return False
    conv.data["bio"] = bio
    return True


def _accept_fee(turn: Turn, conv: Conversation, text: str | None) -> bool:
    amount = parse_money(text, turn.config.currency) if text else None
    if amount is None:
        turn.reply(
            turn.t(
                "I could not read that as an amount in whole units. Please type a number "
                "like 50 (0 if the consultation is free)."
            )
            if precision_of(turn.config.currency) == 0
            else turn.t(
                "I could not read that as an amount. Please type a number like 50 or 49.90 "
                "(0 if the consultation is free)."
            )
        )
        return False
    conv.data["fee"] = amount
    return True


async def on_callback(turn: Turn, conv: Conversation, callback: callbacks.Callback) -> None:
    step, t, message_id, action = Step(conv.step), turn.t, turn.event.message_id, callback.action
    if step is Step.CONSENT and action in {"yes", "no"}:
        declined = t(
            "Without your consent we cannot set up your profile, and nothing about you "
            "was stored. If you change your mind, open the invite link again."
        )
        if await consent.answer(turn, conv, action == "yes", declined):
            await conversation.move(turn, conv, Step.NAME)
            ask(turn, conv)
        return
    if step is Step.SPECIALTY and action[:1] == "p" and action[1:].isdigit():
        turn.answer()
        await ask_specialty(turn, conv, int(action[1:]), edit=True)
        return
    if step is Step.SPECIALTY and action[:1] == "s" and action[1:].isdigit():
        specialty = await turn.uow.specialties.get(int(action[1:]))
        if specialty is None:
            turn.answer(t("This button is no longer active."))
            return
        turn.answer()
        conv.data["spec"] = specialty.id
        conv.data["spec_name"] = specialty.name
        if message_id:
            turn.edit(message_id, t("Specialty: {name}", name=specialty.name))
        await _advance(turn, conv)
        return
    if step is Step.LENGTH and action[:1] == "m" and action[1:].isdigit():
        minutes = int(action[1:])
        if minutes not in LENGTHS:
            turn.answer(t("This button is no longer active."))
            return
        turn.answer()
        conv.data["len"] = minutes
        if message_id:
            turn.edit(message_id, t("Consultation length: {minutes} min", minutes=minutes))
        await _advance(turn, conv)
        return
    if step is Step.TIMEZONE and accept_zone_button(turn, conv, action):
        await _advance(turn, conv)
        return
    if step is Step.CONFIRM and action == "ok":
        await _finish(turn, conv)
        return
    if step is Step.CONFIRM and action.startswith("e-") and action[2:] in {s.value for s in ORDER}:
        turn.answer()
        if message_id:
            turn.edit(message_id, _summary(turn, conv))  # same text, buttons gone
        conv.data["editing"] = True
        await conversation.move(turn, conv, Step(action[2:]))
        await _ask(turn, conv)
        return
    turn.answer(t("This button is no longer active."))


async def _finish(turn: Turn, conv: Conversation) -> None:
    t, data, uow = turn.t, conv.data, turn.uow
    missing = [s for s in ORDER if data.get(s.value) is None]
    if missing:
        turn.answer()
        await conversation.move(turn, conv, missing[0])
        await _ask(turn, conv)
        return
    invite = await uow.invites.lock(str(data.get("invite", "")))
    problem = _invite_problem(turn, invite)
    if problem is not None or invite is None:
        turn.answer()
        await conversation.end(turn)
        if turn.event.message_id:
            turn.edit(turn.event.message_id, _summary(turn, conv))
        turn.reply(problem or t("This invite link is not valid."))
        return
    specialty = await uow.specialties.get(int(data["spec"]))
    if specialty is None:
        turn.answer()
        data["editing"] = True
        await conversation.move(turn, conv, Step.SPECIALTY)
        await ask_specialty(turn, conv)
        return
    if turn.user is not None:  # registered meanwhile (e.g. as a patient on another device)
        turn.answer()
        await conversation.end(turn)
        turn.reply(t("You already have an account here, so this invite cannot be used with it."))
        return
    user = User(
        telegram_id=turn.event.user_id,
        role=Role.DOCTOR.value,
        language=t.language,
        full_name=str(data["name"]),
        timezone=str(data["tz"]),
        consent_version=str(data["consent_version"]),
        consent_at=datetime.fromisoformat(str(data["consent_at"])),
        registered_at=turn.now,
        created_at=turn.now,
        updated_at=turn.now,
    )
    doctor = Doctor(
        specialty_id=specialty.id,
        bio=str(data["bio"]),
        fee_minor=int(data["fee"]),
        status="pending",
        slot_minutes=int(data["len"]),
        buffer_minutes=0,
        min_notice_minutes=120,
        horizon_days=30,
        created_at=turn.now,
    )
    doctor.user = user
    doctor.specialty = specialty
    uow.users.add(user)
    uow.doctors.add(doctor)
    await uow.flush()
    invite.used_at = turn.now
    invite.used_by = turn.event.user_id
    await conversation.end(turn)
    turn.user = user
    turn.answer(t("Sent for review"))
    if turn.event.message_id:
        turn.edit(turn.event.message_id, t("✅ Details confirmed."))
    turn.reply(
        t(
            "Thank you, {name}. Your profile is waiting for the clinic's review; we will tell "
            "you here when it is approved.\n\nMeanwhile you can set your working hours with "
            "/availability.",
            name=user.full_name,
        ),
        RemoveKeyboard(),
    )
    turn.set_commands(commands_for(Role.DOCTOR, t))
    await admin.notify_admins(turn, doctor)
