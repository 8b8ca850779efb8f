"""The command line reads --framework before or after the command, and refuses bad counts."""

from __future__ import annotations

import pytest

from bot.cli import parser


@pytest.mark.parametrize(
    ("argv", "framework"),
    [
        ([], "ptb"),
        (["run"], "ptb"),
        (["--framework", "aiogram"], "aiogram"),
        (["--framework", "aiogram", "run"], "aiogram"),
        (["run", "--framework", "aiogram"], "aiogram"),
        (["sandbox", "--framework", "aiogram"], "aiogram"),
    ],
)
def test_framework_before_or_after_the_command(argv: list[str], framework: str) -> None:
    assert parser().parse_args(argv).framework == framework


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--framework", "django"],
        ["rotate-keys", "--batch-size", "0"],
        ["rotate-keys", "--batch-size", "1.5"],
        ["sandbox", "--port", "eighty"],
    ],
)
def test_bad_values_exit_2_with_argparse_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        parser().parse_args(argv)
    assert stopped.value.code == 2
    assert "error:" in capsys.readouterr().err
