"""A real browser (headless Chromium) posts to the real server from pages of other origins: a
plain HTML form (303 to the thank-you page), a fetch() JSON post (CORS preflight, 201), and the
same fetch() from a foreign origin (refused: the browser sees no CORS headers). Run once, on the
embedded database: what it checks is the browser's side of the contract."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.integration.server import Server, create_workspace, run_cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Site:
    """A static site on its own port (its own origin) that records what the browser asks of it."""

    def __init__(self, pages: dict[str, str]) -> None:
        self.pages = pages
        self.requests: list[str] = []
        self.port = 0

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> asyncio.AbstractServer:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        return server

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                target = head.split(" ")[1]
                self.requests.append(target)
                body = self.pages.get(urlsplit(target).path, "ok").encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()

    def reports(self, name: str) -> list[str]:
        return [v for r in self.requests if r.startswith("/report") for v in parse_qs(urlsplit(r).query).get(name, [])]


def page(api: str, form_id: str, key: str, email: str, *, with_plain_form: bool) -> str:
    plain = (
        f"""<form id="plain" method="post" action="{api}/v1/forms/{form_id}/submissions?key={key}">
      <input name="email" value="plain-{email}"><input name="first_name" value="Plain"><input name="website" value="">
    </form>"""
        if with_plain_form
        else ""
    )
    submit = 'document.getElementById("plain").submit();' if with_plain_form else ""
    return f"""<!doctype html><html><body>{plain}<script>
    (async () => {{
      let result;
      try {{
        const r = await fetch("{api}/v1/forms/{form_id}/submissions", {{
          method: "POST",
          headers: {{"Content-Type": "application/json", "Authorization": "Bearer {key}"}},
          body: JSON.stringify({{email: "fetch-{email}", first_name: "Fetch"}})}});
        result = r.status + ":" + (await r.json()).submission_id;
      }} catch (e) {{ result = "refused:" + e.name; }}
      await fetch("/report?fetch=" + encodeURIComponent(result));
      {submit}
    }})();
    </script></body></html>"""


async def browse(url: str, profile: Path, done: Callable[[], bool], timeout: float = 30) -> None:
    """Open `url` in headless Chromium and close it once `done()` (the page's work is seen)."""
    assert CHROMIUM is not None
    process = await asyncio.create_subprocess_exec(
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        url,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not done() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)


@pytest.mark.skipif(
    CHROMIUM is None and os.environ.get("CI", "").lower() != "true",
    reason="headless Chromium is not installed (Debian package `chromium`; .ci/run installs it)",
)
async def test_real_browser_posts_forms_cross_origin(tmp_path: Path) -> None:
    assert CHROMIUM is not None, "CI=true but chromium is missing: .ci/run installs it"
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    run_cli(url, "migrate")
    keys = create_workspace(url, "Browser")
    shop, foreign = Site({}), Site({})
    servers = [await shop.start(), await foreign.start()]
    try:
        with Server(url, tmp_path / "server.log") as api:
            admin = {"Authorization": f"Bearer {keys['secret_key']}"}
            async with httpx.AsyncClient(base_url=api.url, headers=admin) as client:
                form = (
                    await client.post(
                        "/v1/forms",
                        json={
                            "name": "Contact",
                            "allowed_origins": [shop.origin],
                            "honeypot_field": "website",
                            "redirect_url": f"{shop.origin}/thanks",
                        },
                    )
                ).json()
                shop.pages["/contact"] = page(
                    api.url, form["id"], keys["publishable_key"], "shop@x.io", with_plain_form=True
                )
                shop.pages["/thanks"] = "<p>Thank you</p>"
                foreign.pages["/steal"] = page(
                    api.url, form["id"], keys["publishable_key"], "evil@x.io", with_plain_form=False
                )
                await browse(f"{shop.origin}/contact", tmp_path / "profile-shop", lambda: "/thanks" in shop.requests)
                await browse(
                    f"{foreign.origin}/steal", tmp_path / "profile-foreign", lambda: bool(foreign.reports("fetch"))
                )
                leads = (await client.get("/v1/leads")).json()["data"]
                submissions = (await client.get(f"/v1/forms/{form['id']}/submissions")).json()["data"]
        [fetched] = shop.reports("fetch")
        assert fetched.startswith("201:"), fetched  # preflight passed, the page could read the answer
        assert "/thanks" in shop.requests  # the plain form was redirected (303) to the thank-you page
        assert foreign.reports("fetch") == ["refused:TypeError"]  # the browser refused the foreign origin
        emails = sorted(lead["email"] for lead in leads)
        assert emails == ["fetch-shop@x.io", "plain-shop@x.io"]
        # the page reads the submission's id (never a lead's); a secret key finds its lead
        [submission] = [s for s in submissions if s["id"] == fetched.split(":")[1]]
        assert submission["lead_id"] in {lead["id"] for lead in leads}
    finally:
        for server in servers:
            server.close()
