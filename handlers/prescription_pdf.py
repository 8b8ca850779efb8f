"""The consultation summary and prescriptions as a PDF the patient keeps (fpdf2).

Names and medicines may be in any script. A Unicode TTF font is used when the system has one
(DejaVu Sans covers Latin, Greek and Cyrillic; a Devanagari font such as FreeSans, Lohit or
Noto Sans Devanagari is added as a fallback when installed); a character no available font can
draw is replaced, never allowed to fail the wrap-up. Without any TTF font the core Helvetica is
used, with everything outside Latin-1 replaced. Every text here is in the patient's language.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from handlers.i18n import Translator, plain
from handlers.port import Document
from storage.models import Prescription

log = logging.getLogger(__name__)

MIME_TYPE = "application/pdf"
REPLACEMENT = "?"
DEJAVU_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/TTF"),
    Path("/usr/local/share/fonts"),
)
# Fallbacks for scripts DejaVu Sans does not cover (tried in order when present).
FALLBACK_FILES = (
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
    "/usr/share/fonts/truetype/lohit-devanagari/Lohit-Devanagari.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansDevanagari-Regular.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansDevanagari-Regular.ttf",
)


@dataclass(frozen=True)
class FontSet:
    regular: Path
    bold: Path | None
    fallbacks: tuple[Path, ...]


def _fc_file(pattern: str) -> Path | None:
    if shutil.which("fc-match") is None:
        return None
    try:
        found = subprocess.run(  # noqa: S603 - fixed arguments, no user input
            ["fc-match", "-f", "%{file}", pattern],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    path = Path(found) if found else None
    return path if path and path.suffix.lower() in {".ttf", ".otf"} and path.is_file() else None


def _fc_language_files(language: str) -> list[Path]:
    if shutil.which("fc-list") is None:
        return []
    try:
        listed = subprocess.run(  # noqa: S603 - fixed arguments, no user input
            ["fc-list", f":lang={language}", "file"],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    paths = sorted({Path(line.split(":")[0].strip()) for line in listed.splitlines() if line})
    return [p for p in paths if p.suffix.lower() in {".ttf", ".otf"} and p.is_file()]


@cache
def find_fonts() -> FontSet | None:
    """The Unicode fonts this system has (looked up once), or None for the core font."""
    regular = bold = None
    for folder in DEJAVU_DIRS:
        if (folder / "DejaVuSans.ttf").is_file():
            regular = folder / "DejaVuSans.ttf"
            bold = folder / "DejaVuSans-Bold.ttf"
            break
    if regular is None:
        found = _fc_file("DejaVu Sans")
        if found is not None and "dejavu" in found.name.lower():
            regular = found
            bold = _fc_file("DejaVu Sans:bold")
    if regular is None:
        return None
    if bold is not None and not bold.is_file():
        bold = None
    fallbacks = [Path(p) for p in FALLBACK_FILES if Path(p).is_file()]
    if not fallbacks:
        fallbacks = _fc_language_files("hi")[:1]
    return FontSet(regular, bold, tuple(p for p in fallbacks if p != regular))


@cache
def _covered(path: Path) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(str(path), lazy=True) as font:
        return frozenset(font.getBestCmap() or {})


def _printable(text: str) -> str:
    """Control and format characters out (they have no glyph); tabs become spaces."""
    kept = []
    for char in text:
        if char == "\n":
            kept.append(char)
        elif char == "\t":
            kept.append(" ")
        elif unicodedata.category(char) in {"Cc", "Cf", "Cs", "Co", "Cn"}:
            continue
        else:
            kept.append(char)
    return "".join(kept)


def _cleaner(fonts: FontSet | None) -> Callable[[str], str]:
    if fonts is None:

        def latin1(text: str) -> str:
            text = unicodedata.normalize("NFC", _printable(text))
            return text.encode("latin-1", "replace").decode("latin-1")

        return latin1
    covered: set[int] = set()
    for path in (fonts.regular, *fonts.fallbacks):
        try:
            covered |= _covered(path)
        except Exception:  # an unreadable font only narrows coverage
            log.warning("font not readable", extra={"font": path.name})

    def drawable(text: str) -> str:
        text = unicodedata.normalize("NFC", _printable(text))
        return "".join(
            c
            if c in "\n " or ord(c) in covered
            else ""
            if unicodedata.combining(c)
            else REPLACEMENT
            for c in text
        )

    return drawable


class _Pdf(FPDF):
    footer_text = ""
    family = "helvetica"

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(self.family, size=8)
        self.set_text_color(110, 110, 110)
        self.multi_cell(
            0,
            4,
            f"{self.footer_text} · {self.page_no()}/{{nb}}",
            align="C",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )


class PdfWriter:
    """A text document in the fonts this system has, every string made drawable first.

    Shared by the prescription PDF and the patient's data export (handlers/data_export.py).
    """

    def __init__(self, title: str, creator: str) -> None:
        fonts = find_fonts()
        self.clean = _cleaner(fonts)
        pdf = _Pdf(format="A4")
        pdf.set_margins(18, 18, 18)
        pdf.set_auto_page_break(True, margin=22)
        pdf.set_title(self.clean(title))
        pdf.set_creator(self.clean(creator))
        self.bold_style = ""
        if fonts is not None:
            pdf.add_font("Body", "", str(fonts.regular))
            if fonts.bold is not None:
                pdf.add_font("Body", "B", str(fonts.bold))
                self.bold_style = "B"
            names = []
            for index, path in enumerate(fonts.fallbacks):
                name = f"Fallback{index}"
                try:
                    pdf.add_font(name, "", str(path))
                except Exception:  # a broken fallback font is skipped
                    log.warning("fallback font not usable", extra={"font": path.name})
                else:
                    names.append(name)
            if names:
                pdf.set_fallback_fonts(names, exact_match=False)
            pdf.family = "Body"
        else:
            pdf.family = "helvetica"
            self.bold_style = "B"
        self.pdf = pdf

    def say(self, translated: str) -> str:
        """A text from `t(...)`, unescaped (this is not HTML) and made drawable. The caller
        calls `t` itself, so that the catalog extraction sees every text."""
        return self.clean(plain(translated))

    def begin(self, footer: str) -> None:
        """The footer every page carries (already drawable), then the first page."""
        self.pdf.footer_text = footer
        self.pdf.add_page()

    def line(self, text: str, size: float = 11, bold: bool = False, gap: float = 0) -> None:
        pdf = self.pdf
        pdf.set_font(pdf.family, self.bold_style if bold else "", size)
        pdf.multi_cell(0, size * 0.5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if gap:
            pdf.ln(gap)

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def prescription_item(prescription: Prescription) -> dict[str, str | None]:
    """A stored prescription as the plain values the PDF draws (the export holds the same)."""
    return {
        "medicine": prescription.medicine,
        "strength": prescription.strength,
        "dose": prescription.dose,
        "frequency": prescription.frequency,
        "duration": prescription.duration,
        "instructions": prescription.instructions,
    }


def prescription_pdf(
    t: Translator,
    *,
    clinic_name: str,
    doctor_name: str,
    specialty: str,
    patient_name: str,
    issued_on: str,
    reference: str,
    summary: str,
    prescriptions: Sequence[Mapping[str, object]],
    follow_up_days: int | None,
) -> Document:
    writer = PdfWriter(reference, clinic_name)
    clean, pdf, line, say = writer.clean, writer.pdf, writer.line, writer.say

    writer.begin(
        say(
            t(
                "{clinic} · reference {reference} · issued {date}",
                clinic=clinic_name,
                reference=reference,
                date=issued_on,
            )
        )
    )

    pdf.set_text_color(20, 60, 110)
    line(clean(clinic_name), size=16, bold=True, gap=1)
    pdf.set_text_color(0, 0, 0)
    line(say(t("Consultation summary and prescriptions")), size=13, bold=True, gap=3)
    line(say(t("Doctor: {doctor} ({specialty})", doctor=doctor_name, specialty=specialty)))
    line(say(t("Patient: {patient}", patient=patient_name)))
    line(say(t("Date: {date}", date=issued_on)))
    line(say(t("Reference: {reference}", reference=reference)), gap=4)

    line(say(t("Summary")), size=12, bold=True, gap=1)
    line(clean(summary), gap=4)

    line(say(t("Prescriptions")), size=12, bold=True, gap=1)
    if not prescriptions:
        line(say(t("No medicines were prescribed.")), gap=2)
    for number, item in enumerate(prescriptions, start=1):
        line(
            say(
                t(
                    "{number}. {medicine} {strength}",
                    number=number,
                    medicine=item.get("medicine", ""),
                    strength=item.get("strength", ""),
                )
            ),
            bold=True,
        )
        line(say(t("Dose: {dose}", dose=item.get("dose", ""))))
        line(say(t("How often: {frequency}", frequency=item.get("frequency", ""))))
        line(say(t("For how long: {duration}", duration=item.get("duration", ""))))
        if item.get("instructions"):
            line(say(t("Instructions: {instructions}", instructions=item["instructions"])))
        pdf.ln(3)
    if follow_up_days:
        pdf.ln(1)
        line(
            say(
                t(
                    "Your doctor advises a follow-up consultation in {days} days.",
                    days=follow_up_days,
                )
            )
        )
    data = writer.output()
    return Document(filename=f"prescription-{reference}.pdf", data=data, mime_type=MIME_TYPE)
