"""The README's walkthrough, run as a newcomer runs it: every shell example of "Using the API", in
order, in one bash session, against a fresh server on SQLite with the demo workspace's keys.

Rules the README follows (written down in its "Conventions for these examples"):
- Every `bash` block of the section "Using the API" runs, top to bottom, with `set -euo pipefail`:
  an id the README never produced is an unset variable and fails the run, and so does an extraction
  (`field`) that finds nothing.
- Every curl answer must be 2xx or 3xx, unless the command carries the comment `# answers NNN`
  (an error the README shows on purpose); then it must be exactly NNN.
- A command ending with the comment `# shows: TEXT` must answer a body containing TEXT (as the
  compact JSON prints it; `$VARIABLE`s the walkthrough set are filled in), so an example that
  quietly answers nothing, or the wrong thing, fails too.
- A block whose first line starts with `# Needs an outside service` is not run (a real shop, say).
- `sk_…` and `pk_…` stand for the keys the server prints at its first start; `127.0.0.1:8000` and
  `127.0.0.1:9000` are replaced by the ports this test picked, and `.venv/bin/python` by this
  interpreter.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.integration.server import ROOT, Server, free_port

README = ROOT / "README.md"
SECTION = "## Using the API"
SKIP = "# Needs an outside service"
EXPECTED = re.compile(r"#\s*answers (\d{3})\b")
SHOWS = re.compile(r"#\s*shows: (.+?)\s*$", re.MULTILINE)
MISSING_LINE = re.compile(r"^@@readme-missing (\S+) (.*)$", re.MULTILINE)
STATUS_LINE = re.compile(r"^@@readme (\d{3}) (\d{3}|-) (\S+) (\S+) (\S+)$", re.MULTILINE)

# Each curl answer's status goes to stderr on a line of its own, with the status the README expects
# (the command's `# answers NNN`, or - for any success); stdout stays what the reader sees, so
# answers piped into `field` are untouched.
PRELUDE = r"""set -euo pipefail
__EXPECT=- __SHOWS=
curl() {
  local answer="$README_ANSWERS/$RANDOM$RANDOM"
  command curl -w '%{stderr}\n@@readme %{http_code} '"$__EXPECT"' %{method} %{url_effective} '"$answer"'\n' "$@" \
    | tee "$answer"
  if [ -n "$__SHOWS" ] && ! grep -qF -- "$__SHOWS" "$answer"; then echo "@@readme-missing $answer $__SHOWS" >&2; fi
}
"""


def walkthrough(text: str) -> list[str]:
    """The `bash` blocks of the section "Using the API", in order, without the skipped ones."""
    start = text.index(f"\n{SECTION}\n")
    end = text.find("\n## ", start + len(SECTION) + 2)
    section = text[start : end if end != -1 else len(text)]
    blocks = re.findall(r"^```bash\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL)
    return [block for block in blocks if not block.lstrip().startswith(SKIP)]


def commands(block: str) -> list[str]:
    """A block cut into complete commands: lines joined while a line ends with `\\` or `|`, or a
    quote is still open (a JSON body or a python3 -c program over several lines)."""
    found: list[str] = []
    pending: list[str] = []
    for line in block.splitlines():
        pending.append(line)
        text = "\n".join(pending)
        if line.rstrip().endswith(("\\", "|", "&&")):
            continue
        try:
            shlex.split(text, comments=True)
        except ValueError:
            continue  # an open quote: the command goes on
        found.append(text)
        pending = []
    assert not pending, f"an example never ends: {pending}"
    return found


def _shell_text(found: re.Match[str] | None) -> str:
    """The `# shows:` text as a double-quoted shell word: `$VARIABLE`s the README set expand."""
    text = found.group(1) if found else ""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`") + '"'


def script(text: str, *, api_port: int, hook_port: int, secret_key: str, publishable_key: str) -> str:
    parts = [PRELUDE]
    for block in walkthrough(text):
        for command in commands(block):
            expected, shows = EXPECTED.search(command), SHOWS.search(command)
            parts.append(f"__EXPECT={expected.group(1) if expected else '-'} __SHOWS={_shell_text(shows)}")
            parts.append(command)
    body = "\n".join(parts) + "\n"
    body = body.replace("sk_…", secret_key).replace("pk_…", publishable_key)
    body = body.replace("127.0.0.1:8000", f"127.0.0.1:{api_port}").replace("127.0.0.1:9000", f"127.0.0.1:{hook_port}")
    body = re.sub(r"--port 9000\b", f"--port {hook_port}", body)
    return body.replace(".venv/bin/python", shlex.quote(sys.executable))


def test_commands_are_cut_where_bash_ends_them() -> None:
    block = """# a comment, with the workspace's apostrophe
A=$(curl -s x \\
  -d '{"a":
       1}' | field id)
field() { python3 -c 'import json
print(1)' "$1"; }
curl -s y   # answers 409 when it's spent
"""
    cut = commands(block)
    assert len(cut) == 4 and cut[1].startswith("A=$(") and cut[1].endswith("field id)")
    assert cut[2].startswith("field()") and EXPECTED.search(cut[3]).group(1) == "409"  # type: ignore[union-attr]


def test_only_the_walkthrough_runs_and_outside_services_are_skipped() -> None:
    text = """## Quick start
```bash
make run
```
## Using the API
```bash
curl -s $API/one
```
```html
<form></form>
```
```bash
# Needs an outside service: a real shop
curl -s https://shop.example
```
```bash
curl -s $API/two
```
## Running on PostgreSQL
```bash
createdb crm
```
"""
    assert walkthrough(text) == ["curl -s $API/one\n", "curl -s $API/two\n"]


def tracebacks(log: str) -> str:
    """The server log's tracebacks with the line before each (the failed request's log line)."""
    lines, kept, inside = log.splitlines(), [], False
    for number, line in enumerate(lines):
        if line.startswith("Traceback"):
            inside = True
            kept.extend(lines[max(0, number - 2) : number])
        elif inside and line and not line.startswith((" ", "\t")) and ":" in line:
            kept.append(line)
            inside = False
            continue
        if inside:
            kept.append(line)
    return "\n".join(kept)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_readme_walkthrough_runs_as_written(tmp_path: Path) -> None:
    missing = [tool for tool in ("bash", "curl", "python3") if shutil.which(tool) is None]
    if missing:
        reason = f"the README's examples need {', '.join(missing)}"
        if os.environ.get("CI", "").lower() in ("1", "true"):
            pytest.fail(reason)
        pytest.skip(reason)
    text = README.read_text()
    assert walkthrough(text), "no bash examples under 'Using the API'"
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'crm.db'}"
    with Server(database_url, tmp_path / "server.log", worker=True, OUTBOUND_ALLOW_LOOPBACK="true") as server:
        keys = dict(re.findall(r"(secret key \(admin\)|publishable key):\s+(\S+)", server.output()))
        assert set(keys) == {"secret key (admin)", "publishable key"}, server.output()
        hook_port = free_port()
        # The examples run where a clone's files are: examples/ beside them, outputs in a scratch directory.
        (tmp_path / "clone").mkdir()
        (tmp_path / "clone" / "examples").symlink_to(ROOT / "examples")
        path = tmp_path / "walkthrough.sh"
        path.write_text(
            script(
                text,
                api_port=server.port,
                hook_port=hook_port,
                secret_key=keys["secret key (admin)"],
                publishable_key=keys["publishable key"],
            )
        )
        (tmp_path / "answers").mkdir()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "PYTHONPATH": str(ROOT),
            "LOG_LEVEL": "warning",
            "README_ANSWERS": str(tmp_path / "answers"),
        }
        with (tmp_path / "out.txt").open("w") as out, (tmp_path / "err.txt").open("w") as err:
            process = subprocess.Popen(
                ["bash", str(path)], cwd=tmp_path / "clone", env=env, stdout=out, stderr=err, start_new_session=True
            )
            code: int | str
            try:
                code = process.wait(timeout=240)
            except subprocess.TimeoutExpired:
                code = "still running after 240 s (a wait that never ended?)"
            finally:
                # whatever the walkthrough left running (the webhook receiver when it failed midway)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        stdout, stderr = (tmp_path / "out.txt").read_text(), (tmp_path / "err.txt").read_text()
        answers = STATUS_LINE.findall(stderr)
        wrong = [
            f"{method} {url} answered {status}, the README shows {expected}: {Path(answer).read_text()[:1500]}"
            for status, expected, method, url, answer in answers
            if (status != expected if expected != "-" else not "200" <= status < "400")
        ]
        wrong += [
            f"an answer does not show {text!r}: {Path(answer).read_text()[:1500]}"
            for answer, text in MISSING_LINE.findall(stderr)
        ]
        tail = f"\n--- stdout (end)\n{stdout[-3000:]}\n--- stderr (end)\n{stderr[-3000:]}"
        if any("answered 5" in line for line in wrong):  # the server's own account of what failed
            tail += f"\n--- server (tracebacks)\n{tracebacks(server.output())[-6000:]}"
        assert not wrong, "\n".join(wrong) + tail
        assert code == 0, f"the walkthrough stopped (exit {code}){tail}\n--- server\n{server.output()[-3000:]}"
        assert len(answers) > 100, f"only {len(answers)} requests ran{tail}"

        # What a newcomer came for, checked through the API.
        auth = {"Authorization": f"Bearer {keys['secret key (admin)']}"}
        with httpx.Client(base_url=server.url, headers=auth, timeout=10) as api:
            submissions = api.get("/v1/forms").json()["data"]
            assert submissions, "no form"
            won = [o for o in api.get("/v1/opportunities").json()["data"] if o["stage"] == "won"]
            assert won, "no won opportunity"
            orders = api.get("/v1/orders").json()["data"]
            assert any(o["source"] == "shopify" for o in orders) and any(o["line_items"] for o in orders)
            imports = api.get("/v1/imports").json()["data"]
            assert {i["entity"] for i in imports if i["status"] == "completed"} >= {"leads", "orders"}
            assert api.get("/v1/analytics/model").status_code == 200
            endpoints = api.get("/v1/webhook-endpoints").json()["data"]
            delivered = [
                d
                for e in endpoints
                for d in api.get(f"/v1/webhook-endpoints/{e['id']}/deliveries").json()["data"]
                if d["status"] == "succeeded"
            ]
            assert delivered, "no webhook was delivered"
        assert "verified" in stdout, "the local receiver verified no delivery"
