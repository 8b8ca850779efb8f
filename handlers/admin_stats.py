"""/admin → Statistics: a period picker, then the figures as a message and a chart image.

Appointment figures count appointments starting in the period (up to now); hours are in the
admin's own time zone. The arithmetic lives in clinic/statistics.py, the queries in
storage/admin_repositories.py, the picture in handlers/admin_charts.py (drawn after commit).
"""

from __future__ import annotations

from functools import partial

from babel.dates import format_date
from babel.numbers import format_decimal, format_percent

from clinic import statistics
from clinic.statistics import OCCUPYING, Period
from clinic.timezones import zone
from handlers.admin_buttons import admin_data, not_valid
from handlers.admin_charts import render_chart
from handlers.i18n import Html, Translator, plain
from handlers.port import InlineButton, InlineKeyboard
from handlers.turn import Turn

STATES = (
    "held",
    "booked",
    "in_consultation",
    "completed",
    "no_show",
    "cancelled",
    "rescheduled",
    "expired",
)


def state_name(t: Translator, status: str) -> str:
    names = {
        "held": t("held for payment"),
        "booked": t("booked"),
        "in_consultation": t("in consultation"),
        "completed": t("completed"),
        "no_show": t("no-show"),
        "cancelled": t("cancelled"),
        "rescheduled": t("rescheduled"),
        "expired": t("expired unpaid"),
    }
    return names.get(status, status)


def doctor_status_name(t: Translator, status: str) -> str:
    names = {
        "approved": t("approved"),
        "pending": t("pending"),
        "suspended": t("suspended"),
        "rejected": t("rejected"),
    }
    return names.get(status, status)


def period_name(t: Translator, period: Period) -> str:
    names = {
        Period.WEEK: t("the last 7 days"),
        Period.MONTH_30: t("the last 30 days"),
        Period.QUARTER: t("the last 90 days"),
        Period.THIS_MONTH: t("this month"),
    }
    return names[period]


async def ask_period(turn: Turn, target: str) -> None:
    t = turn.t
    turn.answer()
    turn.reply(
        t("Statistics for which period?"),
        InlineKeyboard(
            (
                (
                    InlineButton(t("7 days"), admin_data("per", Period.WEEK.value)),
                    InlineButton(t("30 days"), admin_data("per", Period.MONTH_30.value)),
                ),
                (
                    InlineButton(t("90 days"), admin_data("per", Period.QUARTER.value)),
                    InlineButton(t("This month"), admin_data("per", Period.THIS_MONTH.value)),
                ),
            )
        ),
    )


def _percent(t: Translator, value: float | None) -> str:
    if value is None:
        return t("no visits were due")
    return format_percent(value, "#,##0.#%", locale=t.language)


async def show(turn: Turn, target: str) -> None:
    t = turn.t
    try:
        period = Period(target)
    except ValueError:
        turn.answer(not_valid(t))
        return
    turn.answer()
    zone_name = turn.zone_name
    local = zone(zone_name)
    start, end = statistics.period_bounds(period, turn.now, local)
    queries = turn.uow.admin
    new_patients, all_patients = await queries.patients_registered(start, end)
    doctors = await queries.doctors_by_status()
    by_state = await queries.appointments_by_status(start, end)
    cancelled = statistics.cancellations(await queries.cancellations(start, end))
    ratings = await queries.ratings(start, end)
    buckets = statistics.hour_buckets(await queries.starts(start, end, OCCUPYING), local)
    language = t.language

    doctor_line = ", ".join(
        t("{count} {status}", count=doctors.get(s, 0), status=doctor_status_name(t, s))
        for s in ("approved", "pending", "suspended", "rejected")
    )
    shown_states = [(s, by_state[s]) for s in STATES if by_state.get(s)]
    shown_states += [(s, n) for s, n in sorted(by_state.items()) if s not in STATES and n]
    state_line = ", ".join(
        t("{status} {count}", status=state_name(t, s), count=n) for s, n in shown_states
    ) or t("none")
    rating_lines = "\n".join(
        t(
            "• {name}: ★ {average} ({count})",
            name=doctor.user.full_name or "—",
            average=format_decimal(round(total / count, 2), "0.0#", locale=language),
            count=count,
        )
        for doctor, total, count in ratings
    ) or t("No ratings in this period.")
    busiest = statistics.busiest_hours(buckets)
    busiest_line = ", ".join(
        t("{start}:00–{end}:00 ({count})", start=f"{h:02d}", end=f"{(h + 1) % 24:02d}", count=n)
        for h, n in busiest
    ) or t("no visits")
    text = t(
        "<b>Statistics for {period}</b> ({first} – {last}; times in {tz})\n\n"
        "<b>Patients:</b> {new} registered in the period, {total} in all\n"
        "<b>Doctors:</b> {doctors}\n"
        "<b>Appointments</b> starting in the period: {appointments}\n{states}\n"
        "<b>No-show rate:</b> {no_show_rate} ({no_shows} of {due} due)\n"
        "<b>Cancellations:</b> {cancellations} (by patients {by_patient}, of them late "
        "{late}; by doctors {by_doctor}; by the clinic {by_clinic})\n"
        "<b>Average rating per doctor:</b>\n{ratings}\n"
        "<b>Busiest hours:</b> {busiest}",
        period=period_name(t, period),
        first=format_date(start.astimezone(local), "medium", locale=language),
        last=format_date(end.astimezone(local), "medium", locale=language),
        tz=zone_name,
        new=new_patients,
        total=all_patients,
        doctors=Html(doctor_line),
        appointments=sum(by_state.values()),
        states=Html(state_line),
        no_show_rate=_percent(t, statistics.no_show_rate(by_state)),
        no_shows=by_state.get("no_show", 0),
        due=statistics.came_due(by_state),
        cancellations=cancelled.total,
        by_patient=cancelled.by_patient,
        late=cancelled.late,
        by_doctor=cancelled.by_doctor,
        by_clinic=cancelled.by_clinic,
        ratings=Html(rating_lines),
        busiest=Html(busiest_line),
    )
    if not shown_states:
        # Two empty plots say less than the line above, and look like a fault.
        turn.reply(text + "\n\n" + t("No chart: no appointments start in this period."))
        return
    turn.reply(text)
    render = partial(
        render_chart,
        plain(t("Statistics for {period}", period=period_name(t, period))),
        plain(t("Appointments by state")),
        [(plain(state_name(t, s)), n) for s, n in shown_states],
        plain(t("Busiest hours ({tz})", tz=zone_name)),
        buckets,
        plain(t("hour of day")),
    )
    turn.send_photo(
        "statistics.png",
        render,
        t("Appointments by state and busiest hours, {period}.", period=period_name(t, period)),
    )
