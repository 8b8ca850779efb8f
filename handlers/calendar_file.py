"""The .ics file a patient gets with a booking (icalendar), with no medical detail in it."""

from __future__ import annotations

from datetime import datetime

from icalendar import Calendar
from icalendar import Event as CalendarEvent

from handlers.port import Document


def appointment_ics(
    appointment_id: int,
    starts_at: datetime,
    ends_at: datetime,
    summary: str,
    description: str,
    host: str,
    now: datetime,
) -> Document:
    calendar = Calendar()
    calendar.add("prodid", "-//Telemedicine clinic bot//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = CalendarEvent()
    # A stable uid: a rescheduled booking gets a new appointment id and so a new event.
    event.add("uid", f"appointment-{appointment_id}@{host}")
    event.add("dtstamp", now)
    event.add("dtstart", starts_at)
    event.add("dtend", ends_at)
    event.add("summary", summary)
    event.add("description", description)
    calendar.add_component(event)
    return Document(
        filename=f"appointment-{appointment_id}.ics",
        data=calendar.to_ical(),
        mime_type="text/calendar",
    )
