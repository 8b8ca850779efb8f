"""Scheduled work on APScheduler 3: reminders, start notices, no-show marking, feedback prompts,
doctors' daily agendas and idle-conversation expiry.

`jobs.scheduler` builds the scheduler (persistent SQLAlchemy job store in the project's
database), `jobs.planner` turns committed changes into jobs, `jobs.tasks` holds the job
functions, `jobs.runtime` the parts those functions need at run time.
"""
