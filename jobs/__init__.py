"""Scheduled work (APScheduler). Nothing is scheduled yet: reminders and prompts arrive with the
booking and scheduling issues."""
