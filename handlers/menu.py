"""The main menu, /help and each role's command menu (setMyCommands per chat)."""

from __future__ import annotations

from clinic.roles import Role
from handlers.i18n import Html, Translator
from handlers.port import BotCommand, RemoveKeyboard
from handlers.turn import Turn


def commands_for(role: Role | None, t: Translator) -> list[BotCommand]:
    """Each role's command menu, as setMyCommands shows it in that user's chat."""
    start = BotCommand("start", t("Main menu"))
    help_ = BotCommand("help", t("What this bot can do"))
    cancel = BotCommand("cancel", t("Leave what you are doing"))
    settings = BotCommand("settings", t("Your profile"))
    if role is None:
        return [BotCommand("start", t("Register")), help_, cancel]
    if role is Role.ADMIN:
        return [start, BotCommand("admin", t("Run the clinic")), settings, help_, cancel]
    if role is Role.DOCTOR:
        return [
            start,
            BotCommand("agenda", t("Your appointments")),
            BotCommand("end", t("Wrap up the open consultation")),
            BotCommand("availability", t("Your working hours")),
            BotCommand("records", t("Your patients' records")),
            BotCommand("pin", t("Set or change your PIN")),
            BotCommand("lock", t("Lock your records now")),
            settings,
            help_,
            cancel,
        ]
    return [
        start,
        BotCommand("book", t("Book a consultation")),
        BotCommand("appointments", t("Your appointments")),
        BotCommand("records", t("Your records: visits, chats, prescriptions")),
        BotCommand("upload", t("Add a document to your record")),
        BotCommand("export", t("Get a copy of all your data")),
        BotCommand("delete_me", t("Delete your account and data")),
        BotCommand("pin", t("Set or change your PIN")),
        BotCommand("lock", t("Lock your records now")),
        settings,
        help_,
        cancel,
    ]


def help_text(role: Role | None, t: Translator) -> str:
    emergency = t(
        "⚠️ This service is not for emergencies. If you need urgent help, call your local "
        "emergency number now."
    )
    if role is None:
        body = t(
            "This bot lets you consult the clinic's doctors from your phone.\n\n"
            "/start — create your account (a few questions)\n"
            "/cancel — stop at any step; nothing you skipped is kept\n"
            "/help — this message"
        )
    elif role is Role.ADMIN:
        body = t(
            "You are a clinic admin.\n\n"
            "/start — main menu\n"
            "/admin — doctors (invite, approve or reject, suspend), statistics, payments, "
            "the audit log, finding and banning users, PIN resets, broadcasts, the feedback "
            "export and specialties\n"
            "/settings — your profile, if you registered as a patient too\n"
            "/cancel — leave what you are doing\n"
            "/help — this message"
        )
    elif role is Role.DOCTOR:
        body = t(
            "You are a doctor of the clinic.\n\n"
            "/start — main menu\n"
            "/agenda — today and the next 7 days; cancel an appointment or block a time\n"
            "/availability — weekly hours, days off, slot length, notice and horizon\n"
            "/end — wrap up the open consultation: summary, notes, prescriptions\n"
            "/records — your patients' records: past visits, chats, prescriptions, notes\n"
            "/pin — set or change the PIN that guards records; /lock — lock them now\n"
            "/settings — your profile and time zone\n"
            "/cancel — leave what you are doing\n"
            "/help — this message"
        )
    else:
        body = t(
            "/start — main menu\n"
            "/book — book a consultation\n"
            "/appointments — your appointments: reschedule or cancel\n"
            "/records — your past consultations: summaries, chats, prescriptions, documents\n"
            "/upload — add a lab report or a scan to your record\n"
            "/export — a copy of all your data, as a JSON file and a PDF\n"
            "/delete_me — delete your account and personal data (asks twice)\n"
            "/pin — protect your records with a PIN (optional); /lock — lock them now\n"
            "/settings — see or change your name, date of birth, phone and time zone\n"
            "/cancel — leave what you are doing\n"
            "/help — this message"
        )
    return f"{body}\n\n{emergency}"


def show_main_menu(turn: Turn, role: Role, name: str | None) -> None:
    t = turn.t
    if role is Role.ADMIN and not name:
        greeting = t("Welcome back. You are signed in as a clinic admin.")
    elif name:
        greeting = t("Welcome back, {name}!", name=name)
    else:
        greeting = t("Welcome back!")
    turn.reply(
        t(
            "{greeting}\n\nSend /help to see everything you can do here.",
            greeting=Html(greeting),
        ),
        RemoveKeyboard(),
    )
    turn.set_commands(commands_for(role, t))
