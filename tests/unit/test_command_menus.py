"""Each role's command menu and /help offer exactly the commands that role may run."""

from __future__ import annotations

import re

import pytest

from clinic.roles import Role
from handlers.flows import COMMANDS
from handlers.i18n import translator
from handlers.menu import commands_for, help_text

ROUTER_OWN = {"start", "help", "cancel"}  # handled by the router for everyone
# Offered only where it does something: doctors' and admins' accounts are closed by the admins.
NOT_OFFERED = {Role.DOCTOR: {"delete_me"}, Role.ADMIN: {"delete_me"}}


def allowed(role: Role) -> set[str]:
    return ROUTER_OWN | {name for name, command in COMMANDS.items() if role in command.roles}


@pytest.mark.parametrize("role", list(Role))
def test_the_menu_offers_every_command_of_the_role_and_no_other(role: Role) -> None:
    menu = {c.command for c in commands_for(role, translator("en"))}
    assert menu == allowed(role) - NOT_OFFERED.get(role, set())


@pytest.mark.parametrize("role", list(Role))
def test_help_names_what_the_menu_offers(role: Role) -> None:
    t = translator("en")
    named = set(re.findall(r"/(\w+)", help_text(role, t)))
    assert named == {c.command for c in commands_for(role, t)}


def test_before_registering_only_start_help_and_cancel() -> None:
    t = translator("en")
    assert {c.command for c in commands_for(None, t)} == ROUTER_OWN
    assert set(re.findall(r"/(\w+)", help_text(None, t))) == ROUTER_OWN
