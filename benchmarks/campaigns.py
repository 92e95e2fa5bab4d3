"""Benchmark a campaign: a 100,000-lead audience sent one personalised email each, through the real
server and a real worker process to a local SMTP server (aiosmtpd), at the channel's maximum rate
(`max_per_second` 1000); against the messaging benchmark's baseline, aiosmtplib sending the very same
messages (the bytes the server received) over one connection, in the same run.

    .venv/bin/python -m benchmarks.campaigns [--recipients 100000] [--baseline 20000]

Conditions: PostgreSQL (a throwaway cluster with autovacuum on, or BENCH_DATABASE_URL), `python -m
app serve --no-worker` and one `python -m app worker` as separate processes; quiet hours and the
frequency cap off, marketing allowed without an opt-in (`marketing_requires_opt_in` false, so no
consent rows to set up); one variant, links tracked and tagged; no holdout or pilot (every
recipient is sent).

It reports:
- the launch request's time (the audience read, frozen and drawn) and the time from launch to the
  last email received, and to the campaign's `sent`;
- messages a second, the baseline's (over `--baseline` of the received messages), their ratio;
- the worker's peak resident memory (VmHWM);
- API latency of ordinary requests (a page of leads, the campaign with its progress), sequential from
  a process of their own,
  idle before the launch and during the send: p50 and p99, and the ratio of the p99s;
- that every recipient got exactly one email (distinct Message-IDs and addresses)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks import postgres
from benchmarks.messaging import ROOT, Counting, baseline_rate, drain, mail_bench, peak_rss_mb, wait_for


async def setup(api: httpx.AsyncClient, smtp_port: int, recipients: int) -> dict[str, str]:
    channel = {"type": "email", "provider": "smtp", "name": "Bench", "settings": {
        "host": "127.0.0.1", "port": smtp_port, "security": "none", "from_email": "news@bench.example",
        "from_name": "Bench", "max_per_second": 1000}}  # fmt: skip
    (await api.post("/v1/channels", json=channel)).raise_for_status()
    policy = {"quiet_hours": None, "frequency_cap": None, "marketing_requires_opt_in": False}
    (await api.patch("/v1/settings/messaging", json=policy)).raise_for_status()
    (await api.patch("/v1/settings/campaigns", json={"required_approvals": 1})).raise_for_status()
    template = {
        "name": "Offer",
        "channel": "email",
        "subject": "Hello {{ person.first_name }}",
        "body_text": "Hello {{ person.first_name }}, our offer: https://shop.example/offer",
        "body_html": '<p>Hello {{ person.first_name }}</p><p><a href="https://shop.example/offer">Offer</a></p>',
    }
    created = await api.post("/v1/templates", json=template)
    created.raise_for_status()
    gate = asyncio.Semaphore(4)

    async def batch(start: int) -> None:
        items = [{"first_name": f"Name{n}", "email": f"person{n}@bench.example", "tags": ["bench"]}
                 for n in range(start, min(recipients, start + 500))]  # fmt: skip
        async with gate:
            (await api.post("/v1/leads/batch", json={"leads": items}, timeout=300)).raise_for_status()

    await asyncio.gather(*(batch(s) for s in range(0, recipients, 500)))
    member = await api.post("/v1/members", json={"name": "Reviewer", "email": "reviewer@bench.example"})
    member.raise_for_status()
    key = await api.post("/v1/api-keys", json={"name": "review", "scopes": ["campaigns:review"],
                                                "member_id": member.json()["id"]})  # fmt: skip
    key.raise_for_status()
    campaign = await api.post("/v1/campaigns", json={
        "name": "Bench sale", "channel": "email",
        "audience": {"type": "leads", "conditions": {"field": "tags", "op": "contains", "value": "bench"}},
        "variants": [{"name": "a", "template_id": created.json()["id"], "weight": 1}],
    })  # fmt: skip
    campaign.raise_for_status()
    campaign_id = campaign.json()["id"]
    (await api.post(f"/v1/campaigns/{campaign_id}/submit")).raise_for_status()
    reviewed = await api.post(f"/v1/campaigns/{campaign_id}/reviews", json={"decision": "approve"},
                              headers={"Authorization": f"Bearer {key.json()['key']}"})  # fmt: skip
    reviewed.raise_for_status()
    assert reviewed.json()["status"] == "approved", reviewed.text
    return {"campaign_id": campaign_id}


PROBE = """
import json, sys, time, httpx
url, key, campaign_id, stop, count = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
paths = ["/v1/leads?limit=20", f"/v1/campaigns/{campaign_id}"]
times = []
with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as api:
    while len(times) < count:
        try:
            open(stop).close()
            break
        except FileNotFoundError:
            pass
        start = time.perf_counter()
        api.get(paths[len(times) % 2]).raise_for_status()
        times.append((time.perf_counter() - start) * 1000)
        time.sleep(0.05)
print(json.dumps(times))
"""


def probe(url: str, key: str, campaign_id: str, stop: Path, count: int) -> subprocess.Popen[str]:
    """Ordinary requests one after another (a page of leads, the campaign with its progress), from a
    process of their own (the benchmark's process runs the SMTP server, whose parsing would delay
    a client living beside it): their times in ms, printed when `stop` appears or after `count`."""
    return subprocess.Popen([sys.executable, "-c", PROBE, url, key, campaign_id, str(stop), str(count)],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip


def probed(process: subprocess.Popen[str]) -> list[float]:
    out, _ = process.communicate(timeout=600)
    return [float(t) for t in json.loads(out)]


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(api: httpx.AsyncClient, url: str, env: dict[str, str], campaign_id: str, recipients: int,
              handler: Counting, baseline_size: int, key: str) -> dict[str, Any]:  # fmt: skip
    handler.reset()
    worker = subprocess.Popen(
        [sys.executable, "-m", "app", "worker"], cwd=ROOT, env={**os.environ, **env, "DATABASE_URL": url},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await asyncio.sleep(1.0)  # the worker is up and idle
        stop = Path(tempfile.mkdtemp()) / "stop"
        idle = await asyncio.to_thread(probed, probe(str(api.base_url), key, campaign_id, stop, 400))
        start = time.perf_counter()
        launched = await api.post(f"/v1/campaigns/{campaign_id}/launch", timeout=600)
        launched.raise_for_status()
        launch_seconds = time.perf_counter() - start
        assert launched.json()["progress"]["recipients"] == recipients, launched.text[:300]
        during_probe = probe(str(api.base_url), key, campaign_id, stop, 10**9)
        await wait_for(handler, recipients, timeout=3600)
        received_seconds = handler.last - start
        while (await api.get(f"/v1/campaigns/{campaign_id}")).json()["status"] != "sent":
            await asyncio.sleep(0.2)
        sent_seconds = time.perf_counter() - start
        stop.touch()
        during = await asyncio.to_thread(probed, during_probe)
        await asyncio.sleep(1.0)  # anything sent twice would arrive now
        memory = peak_rss_mb(worker.pid)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    baseline = await baseline_rate(handler.data[:baseline_size])
    addresses = len({raw.split(b"\nTo: ", 1)[1].split(b"\r", 1)[0].split(b"\n", 1)[0] for raw in handler.data})
    return {
        "recipients": recipients, "launch_s": launch_seconds, "received_s": received_seconds, "sent_s": sent_seconds,
        "rate": recipients / received_seconds, "baseline": baseline, "worker_peak_mb": memory,
        "received": handler.count(), "distinct_ids": len(set(handler.ids)), "distinct_to": addresses,
        "idle_p50": p(idle, 0.5), "idle_p99": p(idle, 0.99), "during_p50": p(during, 0.5),
        "during_p99": p(during, 0.99), "during_n": len(during), "during_mean": statistics.fmean(during),
    }  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--baseline", type=int, default=20_000, help="messages the baseline sends")
    args = parser.parse_args()
    async with mail_bench() as bench:
        setup_start = time.perf_counter()
        made = await setup(bench.api, bench.smtp_port, args.recipients)
        await drain(bench.api, bench.url, bench.env)
        print(f"set up {args.recipients:,} leads in {time.perf_counter() - setup_start:.0f} s")
        result = await run(bench.api, bench.url, bench.env, made["campaign_id"], args.recipients, bench.handler,
                           args.baseline, bench.secret_key)  # fmt: skip
    r = result
    print(f"\n{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f} after\n")
    print("| recipients | launch s | launch → last email s | launch → `sent` s | msg/s | aiosmtplib msg/s | ratio "
          "| worker peak MB | received | distinct Message-IDs | distinct addresses |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {r['recipients']:,} | {r['launch_s']:.1f} | {r['received_s']:.0f} | {r['sent_s']:.0f} | {r['rate']:,.0f} "
          f"| {r['baseline']:,.0f} | {r['rate'] / r['baseline']:.2f} | {r['worker_peak_mb']:.0f} | {r['received']:,} "
          f"| {r['distinct_ids']:,} | {r['distinct_to']:,} |")  # fmt: skip
    print("\n| API latency, ms | p50 | p99 | requests |\n|---|---:|---:|---:|")
    print(f"| idle, before launch | {r['idle_p50']:.1f} | {r['idle_p99']:.1f} | 400 |")
    print(f"| during the send | {r['during_p50']:.1f} | {r['during_p99']:.1f} | {r['during_n']:,} |")
    print(f"\np99 during / idle: {r['during_p99'] / r['idle_p99']:.2f}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    with postgres.server():
        asyncio.run(main())
