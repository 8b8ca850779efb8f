"""Every user-facing text goes through the catalog: the template must hold each of them."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from handlers.i18n import Translator, language_for

ROOT = Path(__file__).resolve().parents[2]
UPDATE_HINT = (
    "run: pybabel extract -F babel.cfg -k t -k turn.t --no-default-keywords --sort-by-file "
    "--project=telemed-bot -o locales/messages.pot ."
)


def test_message_template_is_current() -> None:
    found = {
        message
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / "handlers", keywords={"t": None}, comment_tags=()
        )
    }
    with open(ROOT / "locales" / "messages.pot", "rb") as template:
        catalog = read_po(template)
    assert found <= {m.id for m in catalog if m.id}, UPDATE_HINT


def test_unknown_languages_fall_back_to_english_and_params_are_escaped() -> None:
    assert language_for("pt-BR") == "en"
    assert language_for(None) == "en"
    t = Translator("en")
    assert t("Welcome back, {name}!", name="<b>Eve</b> & co") == (
        "Welcome back, &lt;b&gt;Eve&lt;/b&gt; &amp; co!"
    )


def test_translators_are_always_called_t_so_extraction_sees_every_text() -> None:
    """pybabel extracts calls named t(...); a translator bound to another name would hide
    its texts from the catalog."""
    import re

    offenders = [
        f"{path.name}: {match.group(0)}"
        for path in (ROOT / "handlers").glob("*.py")
        for match in re.finditer(r"\b(\w+)\s*=\s*translator\(", path.read_text())
        if match.group(1) != "t"
    ]
    assert offenders == []
