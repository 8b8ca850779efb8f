"""The people one can be in the sandbox: emulator users, remembered in the data folder.

The emulator keeps chats in memory only, while the bot's database lives on disk. Writing the
personas down lets a restart with the same --data-dir bring back the same Telegram ids, so the
bot still knows who is a doctor, who a patient, and which chats it may write to.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from bot.emulator import BotApiEmulator, SimulatedUser

log = logging.getLogger(__name__)

MAX_NAME = 64  # Telegram's limit for a first name


@dataclass(frozen=True)
class Persona:
    user_id: int
    first_name: str
    label: str  # what the switcher shows, e.g. "Dr Mira Kaur · Cardiology"
    role: str  # admin, doctor, patient or new: only a hint for the switcher, not for the bot


class PersonaBook:
    """Personas in creation order, kept in ``personas.json`` beside the database."""

    def __init__(self, path: Path, emulator: BotApiEmulator) -> None:
        self.path = path
        self.emulator = emulator
        self._personas: dict[int, Persona] = {}

    def load(self) -> None:
        """Bring back the personas of an earlier run (a broken file is reported, not fatal)."""
        if not self.path.exists():
            return
        try:
            rows = json.loads(self.path.read_text(encoding="utf-8"))
            personas = [Persona(**row) for row in rows]
        except (OSError, ValueError, TypeError) as exc:
            log.warning("sandbox personas not readable, starting without them: %s", exc)
            return
        for persona in personas:
            self._enter(persona, known=True)

    def add(self, first_name: str, label: str, role: str, user_id: int | None = None) -> Persona:
        """A new persona (or the existing one for ``user_id``), saved at once."""
        if user_id is not None and user_id in self._personas:
            return self._personas[user_id]
        name = first_name.strip()[:MAX_NAME] or "Guest"
        user = self.emulator.user(first_name=name, user_id=user_id)
        persona = Persona(user.id, name, label.strip()[:MAX_NAME] or name, role)
        # Seeded people "wrote to the bot before" in this story, so the bot may write to them;
        # a new user becomes known when they first send something, as on Telegram.
        self._enter(persona, known=role != "new")
        self._save()
        return persona

    def _enter(self, persona: Persona, *, known: bool) -> None:
        self.emulator.user(first_name=persona.first_name, user_id=persona.user_id)
        if known:
            self.emulator.state.chats[persona.user_id].known = True
        self._personas[persona.user_id] = persona

    def _save(self) -> None:
        rows = [asdict(p) for p in self._personas.values()]
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
        temporary.replace(self.path)  # never leave a half-written file behind

    def all(self) -> list[Persona]:
        return list(self._personas.values())

    def get(self, user_id: int) -> Persona | None:
        return self._personas.get(user_id)

    def user(self, user_id: int) -> SimulatedUser | None:
        if user_id not in self._personas:
            return None
        return self.emulator.users.get(user_id)
