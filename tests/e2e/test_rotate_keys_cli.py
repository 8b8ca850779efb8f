"""`python bot.py rotate-keys` as an operator runs it, against a SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, update

from storage.crypto import Cipher, generate_key
from storage.database import create_engine, session_factory
from storage.key_rotation import sealed_tables
from storage.migrate import check_keys, upgrade
from storage.models import Appointment
from tests.support.bot_process import run_to_exit
from tests.support.sealed_data import raw_values, seed_clinic, under

pytestmark = [pytest.mark.e2e]


async def seeded_database(workdir: Path, key: str) -> str:
    url = f"sqlite:///{workdir / 'clinic.db'}"
    engine = create_engine(url, Cipher([key]))
    try:
        await upgrade(engine)
        sessions = session_factory(engine)
        await check_keys(sessions)
        await seed_clinic(sessions)
    finally:
        await engine.dispose()
    return url


async def stored(url: str) -> dict[tuple[str, str, str], str]:
    engine = create_engine(url, Cipher([generate_key()]))  # raw reads need no key
    try:
        return await raw_values(session_factory(engine))
    finally:
        await engine.dispose()


async def test_rotate_keys_from_the_command_line(tmp_path: Path) -> None:
    old, new = generate_key(), generate_key()
    url = await seeded_database(tmp_path, old)
    env = {"DATABASE_URL": url, "ENCRYPTION_KEYS": f"{new},{old}"}

    code, out, err = await run_to_exit(["rotate-keys", "--batch-size", "5"], env, tmp_path)
    assert code == 0, err
    assert "Traceback" not in err
    assert "users: 5 rows checked" in out  # progress per batch
    assert "every encrypted value now opens with the first key" in out
    values = await stored(url)
    assert values and under(values, new) == set(values)

    # A value sealed with a key nobody configured: left as it is, listed, exit 3.
    foreign = Cipher([generate_key()]).encrypt("lost")
    engine = create_engine(url, Cipher([new]))
    try:
        async with session_factory(engine)() as session, session.begin():
            row_id = await session.scalar(select(Appointment.id).order_by(Appointment.id))
            raw = next(s for s in sealed_tables() if s.name == "appointments").raw
            await session.execute(update(raw).where(raw.c.id == row_id).values(reason=foreign))
    finally:
        await engine.dispose()
    code, out, err = await run_to_exit(["rotate-keys"], env, tmp_path)
    assert code == 3, err
    flagged = [line for line in out.splitlines() if line.startswith("unreadable:")]
    assert flagged == [
        "unreadable: 1 values no key in ENCRYPTION_KEYS opens were left untouched and listed "
        f"for the admins: appointments.reason #{row_id}"
    ]
    assert (await stored(url))[("appointments", "reason", str(row_id))] == foreign


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "rotate-keys needs ENCRYPTION_KEYS"),
        ({"ENCRYPTION_KEYS": "not-a-key"}, "ENCRYPTION_KEYS is invalid"),
        ({"ENCRYPTION_KEYS": generate_key()}, "there is no database file"),
    ],
)
async def test_rotate_keys_stops_with_one_line(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'missing.db'}", **env}
    code, _, err = await run_to_exit(["rotate-keys"], env, tmp_path)
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], err
    assert not (tmp_path / "missing.db").exists()


@pytest.mark.parametrize("size", ["0", "-5", "ten", "💥"])
async def test_a_batch_size_below_one_or_not_a_number_is_refused(tmp_path: Path, size: str) -> None:
    old = generate_key()
    url = await seeded_database(tmp_path, old)
    before = await stored(url)
    env = {"DATABASE_URL": url, "ENCRYPTION_KEYS": f"{generate_key()},{old}"}
    code, _, err = await run_to_exit(["rotate-keys", "--batch-size", size], env, tmp_path)
    assert code == 2 and "--batch-size" in err and "Traceback" not in err, err
    assert await stored(url) == before


async def test_without_keys_it_names_this_databases_key_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    (tmp_path / "fresh.db").touch()
    (tmp_path / "fresh.db.key").write_text(generate_key())
    code, _, err = await run_to_exit(["rotate-keys"], {"DATABASE_URL": url}, tmp_path)
    assert code == 2 and f"the old key is in {tmp_path / 'fresh.db.key'}" in err, err


async def test_keys_that_open_nothing_change_nothing(tmp_path: Path) -> None:
    old = generate_key()
    url = await seeded_database(tmp_path, old)
    before = await stored(url)
    env = {"DATABASE_URL": url, "ENCRYPTION_KEYS": f"{generate_key()},{generate_key()}"}
    code, _, err = await run_to_exit(["rotate-keys"], env, tmp_path)
    assert code == 2
    assert err.startswith("error: none of the keys") and len(err.strip().splitlines()) == 1
    assert await stored(url) == before


async def test_help_names_rotate_keys(tmp_path: Path) -> None:
    code, out, _ = await run_to_exit(["--help"], {}, tmp_path)
    assert code == 0 and "rotate-keys" in out
