"""The sandbox page's JSON API given bad input: a clear 4xx, and nothing sent to the bot.

The browser test drives the happy path through the page; these call the API as a careless or
hostile client would, in process, against a real aiohttp server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from bot.emulator import BotApiEmulator
from bot.sandbox.personas import PersonaBook
from bot.sandbox.web import SandboxWeb

pytestmark = pytest.mark.asyncio(loop_scope="function")

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


@pytest_asyncio.fixture(loop_scope="function")
async def sandbox(tmp_path: Path) -> AsyncIterator[tuple[TestClient, BotApiEmulator, int]]:
    emulator = BotApiEmulator()
    personas = PersonaBook(tmp_path / "personas.json", emulator)
    anna = personas.add("Anna", "Anna", "patient").user_id
    web_app = SandboxWeb(emulator, personas)
    client = TestClient(TestServer(web_app.make_app()))
    await client.start_server()
    yield client, emulator, anna
    web_app.close()
    await client.close()


def upload(data: bytes, name: str, mime: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name, content_type=mime)
    return form


async def test_a_new_persona_needs_a_json_object_with_a_name(sandbox: tuple) -> None:
    client, _emulator, _anna = sandbox
    for body in (b"not json", b"[1, 2]", b'{"name": null}', b'{"name": "  "}'):
        response = await client.post("/api/personas", data=body)
        assert response.status == 400, body
        assert "error" in await response.json()
    response = await client.post("/api/personas", json={"name": "Влада 🌷"})
    assert response.status == 201
    assert (await response.json())["first_name"] == "Влада 🌷"


async def test_text_that_is_not_a_string_is_refused_not_sent_as_none(sandbox: tuple) -> None:
    client, emulator, anna = sandbox
    for body in (b'{"text": null}', b'{"text": 5}', b"{}", b"text=hi", b'{"text": "   "}'):
        response = await client.post(f"/api/chats/{anna}/text", data=body)
        assert response.status == 400, body
    assert emulator.state.queue == []
    response = await client.post(f"/api/chats/{anna}/text", json={"text": "hello"})
    assert response.status == 200
    assert [q.update["message"]["text"] for q in emulator.state.queue] == ["hello"]


async def test_a_photo_must_be_an_image(sandbox: tuple) -> None:
    client, emulator, anna = sandbox
    pdf = upload(b"%PDF-1.4 not a picture", "scan.jpg", "image/jpeg")
    response = await client.post(f"/api/chats/{anna}/photo", data=pdf)
    assert response.status == 400
    assert "JPEG, PNG" in (await response.json())["error"]
    assert emulator.state.queue == []
    png = upload(PNG, "scan.png", "image/png")
    assert (await client.post(f"/api/chats/{anna}/photo", data=png)).status == 200
    assert "photo" in emulator.state.queue[0].update["message"]


async def test_an_uploaded_page_is_downloaded_never_shown_as_the_sandboxs_own(
    sandbox: tuple,
) -> None:
    client, emulator, anna = sandbox
    page = upload(b"<script>alert(1)</script>", "x.html", "text/html")
    assert (await client.post(f"/api/chats/{anna}/document", data=page)).status == 200
    html_id = emulator.state.queue[0].update["message"]["document"]["file_id"]
    served = await client.get(f"/api/files/{html_id}")
    assert served.headers["Content-Disposition"].startswith("attachment;")
    assert served.headers["Content-Security-Policy"] == "sandbox"
    pdf = upload(b"%PDF-1.4", "lab.pdf", "application/pdf")
    assert (await client.post(f"/api/chats/{anna}/document", data=pdf)).status == 200
    pdf_id = emulator.state.queue[1].update["message"]["document"]["file_id"]
    served = await client.get(f"/api/files/{pdf_id}")
    assert served.headers["Content-Disposition"].startswith("inline;")
