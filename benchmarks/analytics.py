"""Benchmark the CLV models and the analytics refresh.

1. The fit: BG/NBD + Gamma-Gamma on 100,000 customers simulated from a BG/NBD process (fixed seed),
   ours (app/domain/analytics/clv) against the `lifetimes` package in the same run. lifetimes is not a
   dependency of the service: it lives in its own environment (`make bench-env` makes
   `.venv-bench`; `BENCH_LIFETIMES_PYTHON` points elsewhere) and is run there in a subprocess on
   the same data. Target: at least 5x faster, parameters equal within 0.1%.
2. The whole refresh on PostgreSQL (CLV, RFM, churn, cross-sell, advocacy, cohorts): 100,000
   customers and 1,000,000 orders with their line items (drawn from a BG/NBD process, loaded with
   COPY), `POST /v1/analytics/refresh` on the real server (`python -m app
   serve`, worker included) until its job has succeeded: wall time and the worker's peak memory
   (target under 2 GB). Baseline in the same run: the summary aggregation alone, read with raw
   asyncpg (the least any refresh must do).

    .venv/bin/python -m benchmarks.analytics [--customers 100000] [--orders 1000000] [--skip-refresh]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import numpy as np

from app.domain.analytics.clv import bgnbd, simulate
from benchmarks import postgres
from benchmarks.csv_import import peak_rss_mb
from benchmarks.loadgen import process_tree
from benchmarks.members import ROOT, _admin, _cli, _start

SEED = 20261128
TRUTH = bgnbd.BgNbdParams(r=0.243, alpha=4.414 * 7, a=0.793, b=2.426)  # CDNOW's, in days
SPEND = (6.25, 3.74, 15.44)
CATEGORIES = ("tea", "mugs", "honey", "books", "music", "games", "garden", "tea")
LIFETIMES_PYTHON = os.environ.get("BENCH_LIFETIMES_PYTHON", str(ROOT / ".venv-bench" / "bin" / "python"))

LIFETIMES_SCRIPT = """
import json, sys, time
import numpy as np
import pandas as pd
import lifetimes
from lifetimes import BetaGeoFitter, GammaGammaFitter
data = np.load(sys.argv[1])
x, t_x, T, m = data["x"], data["t_x"], data["T"], data["m"]
runs = int(sys.argv[2])


def unweighted():
    bg = BetaGeoFitter().fit(x, t_x, T)
    repeat = x > 0
    gg = GammaGammaFitter().fit(x[repeat], m[repeat])
    return bg, gg, len(x), int(repeat.sum())


def weighted():
    # Fader and Hardie's condensed form, as lifetimes documents `weights`: one row per distinct
    # (frequency, recency, T) with the number of customers who share it; the grouping is timed.
    rfm = pd.DataFrame({"x": x, "t_x": t_x, "T": T}).value_counts().reset_index(name="n")
    bg = BetaGeoFitter().fit(rfm["x"], rfm["t_x"], rfm["T"], weights=rfm["n"])
    repeat = pd.DataFrame({"x": x, "m": m})[x > 0].value_counts().reset_index(name="n")
    gg = GammaGammaFitter().fit(repeat["x"], repeat["m"], weights=repeat["n"])
    return bg, gg, len(rfm), len(repeat)


out = {"version": lifetimes.__version__}
for name, fit in (("unweighted", unweighted), ("weighted", weighted)):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        bg, gg, rows, repeat_rows = fit()
        times.append(time.perf_counter() - started)
    out[name] = {"seconds": times, "rows": rows, "repeat_rows": repeat_rows,
                 "bgnbd": {k: float(v) for k, v in bg.params_.items()},
                 "gamma_gamma": {k: float(v) for k, v in gg.params_.items()}}
print(json.dumps(out))
"""


def simulated(customers: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(SEED)
    ages = rng.integers(0, 731, customers).astype(np.float64)
    x, t_x, big_t = simulate.bgnbd_customers(TRUTH, ages, rng)
    # Whole days, as the API sees them (several purchases in one day are one purchase).
    t_x = np.floor(t_x)
    m = simulate.spend(x, *SPEND, rng)
    return {"x": x, "t_x": t_x, "T": big_t, "m": np.where(x > 0, m, 0.0)}


OURS_SCRIPT = """
import json, sys, time
import numpy as np
from app.domain.analytics.clv import bgnbd, gamma_gamma
data = np.load(sys.argv[1])
times = []
for _ in range(int(sys.argv[2])):
    started = time.perf_counter()
    fit = bgnbd.fit(data["x"], data["t_x"], data["T"])
    spend = gamma_gamma.fit(data["x"], data["m"])
    times.append(time.perf_counter() - started)
print(json.dumps({"seconds": times, "bgnbd": vars(fit.params), "gamma_gamma": vars(spend.params),
                  "rows": len(data["x"]), "repeat_rows": int((data["x"] > 0).sum())}))
"""

# Both fits run single-threaded (BLAS and OpenMP), each in a fresh process of its own environment:
# on two cores shared with other work a threaded BLAS spins while the other core is taken, which
# slowed either fit by up to 10x from one run to the next (ours no longer calls BLAS in its loop).
SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _subprocess(python: str, script: str, path: Path, fits: int, root: Path = ROOT) -> dict[str, Any]:
    output = subprocess.run(
        [python, "-c", script, str(path), str(fits)],
        check=True, capture_output=True, text=True, cwd=root,
        env={**os.environ, **SINGLE_THREADED, "PYTHONPATH": str(root)},
    ).stdout  # fmt: skip
    return dict(json.loads(output.strip().splitlines()[-1]))


def fit_benchmark(customers: int, runs: int, compare: Path | None = None) -> None:
    """`runs` rounds, interleaved (ours, lifetimes, ours, lifetimes …: this machine's speed drifts
        within minutes); each round a fresh process per side fits 5 times and its median counts. The
    speed-up is also given as the median of each round's ratio and as best against best."""
    if not Path(LIFETIMES_PYTHON).exists():
        raise SystemExit(f"lifetimes' environment is missing ({LIFETIMES_PYTHON}): run `make bench-env`")
    data = simulated(customers)
    mine: list[float] = []
    earlier: list[float] = []  # the same fit from another source tree (--compare-root)
    theirs: dict[str, list[float]] = {"unweighted": [], "weighted": []}
    best: dict[str, float] = {"ours": float("inf"), "unweighted": float("inf"), "weighted": float("inf")}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "customers.npz"
        np.savez(path, **data)
        for _ in range(runs):
            if compare is not None:
                earlier.append(float(np.median(_subprocess(sys.executable, OURS_SCRIPT, path, 5, compare)["seconds"])))
            ours_run = _subprocess(sys.executable, OURS_SCRIPT, path, 5)
            mine.append(float(np.median(ours_run["seconds"])))
            best["ours"] = min(best["ours"], *ours_run["seconds"])
            other = _subprocess(LIFETIMES_PYTHON, LIFETIMES_SCRIPT, path, 5)
            for way in theirs:
                theirs[way].append(float(np.median(other[way]["seconds"])))
                best[way] = min(best[way], *other[way]["seconds"])
    mine_s = float(np.median(mine))
    print(f"\n## Fit: {customers:,} simulated customers ({int((data['x'] > 0).sum()):,} repeat buyers), "
          f"{runs} interleaved rounds, medians; BLAS single-threaded on both sides\n")  # fmt: skip
    print("| | rows fitted (BG/NBD / Gamma-Gamma) | BG/NBD + Gamma-Gamma fit s | speed-up "
          "| r | alpha | a | b | p | q | v |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    bg_names, gg_names = ("r", "alpha", "a", "b"), ("p", "q", "v")
    fit, spend = ours_run["bgnbd"], ours_run["gamma_gamma"]
    print(f"| ours | {ours_run['rows']:,} / {ours_run['repeat_rows']:,} (grouped inside) | {mine_s:.3f} | | "
          + " | ".join(f"{fit[k]:.5f}" for k in bg_names)
          + " | " + " | ".join(f"{spend[k]:.5f}" for k in gg_names) + " |")  # fmt: skip
    if earlier:
        print(f"| ours as of {compare} | | {np.median(earlier):.3f} | | | | | | | | |")
    ratios, differences = {}, {}
    for way in ("unweighted", "weighted"):
        run = other[way]
        their_bg, their_gg = run["bgnbd"], run["gamma_gamma"]
        seconds = float(np.median(theirs[way]))
        ratios[way] = seconds / mine_s
        diffs = [abs(fit[k] / their_bg[k] - 1) for k in bg_names] + [abs(spend[k] / their_gg[k] - 1) for k in gg_names]
        differences[way] = max(diffs)
        print(f"| lifetimes {other['version']}, {way} | {run['rows']:,} / {run['repeat_rows']:,} | {seconds:.3f} "
              f"| {ratios[way]:.1f}x | " + " | ".join(f"{their_bg[k]:.5f}" for k in bg_names)
              + " | " + " | ".join(f"{their_gg[k]:.5f}" for k in gg_names) + " |")  # fmt: skip
    print(f"\nper round s: ours {', '.join(f'{t:.3f}' for t in mine)}; lifetimes weighted "
          f"{', '.join(f'{t:.3f}' for t in theirs['weighted'])}; unweighted "
          f"{', '.join(f'{t:.3f}' for t in theirs['unweighted'])}")  # fmt: skip
    paired = {way: float(np.median(np.array(theirs[way]) / np.array(mine))) for way in theirs}
    if earlier:
        print(f"ours against {compare}: {np.median(earlier) / mine_s:.1f}x faster; weighted lifetimes against it: "
              f"{np.median(theirs['weighted']) / np.median(earlier):.1f}x")  # fmt: skip
    print(f"median of the rounds' ratios: weighted {paired['weighted']:.1f}x, unweighted {paired['unweighted']:.1f}x; "
          f"best against best: ours {best['ours']:.3f} s, weighted {best['weighted']:.3f} s "
          f"({best['weighted'] / best['ours']:.1f}x), unweighted {best['unweighted']:.3f} s "
          f"({best['unweighted'] / best['ours']:.1f}x)")  # fmt: skip
    met = ratios["weighted"] >= 5 and differences["weighted"] < 1e-3
    print(f"speed-up against lifetimes' faster, weighted fit {ratios['weighted']:.1f}x (unweighted "
          f"{ratios['unweighted']:.1f}x; target >= 5x); largest parameter difference {differences['weighted']:.1e} "
          f"(unweighted {differences['unweighted']:.1e}; target < 1e-3): {'met' if met else 'NOT MET'}; truth "
          f"r={TRUTH.r} alpha={TRUTH.alpha:.3f} a={TRUTH.a} b={TRUTH.b}, p,q,v={SPEND}")  # fmt: skip


# -- the whole refresh ------------------------------------------------------------------------------


def _orders(customers: int, orders: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(customer index, day offset) of every order of `customers` customers drawn from a BG/NBD
    process over three years: heavier buyers than CDNOW (about 10 orders each, a million for
    100,000 customers). Whole customers past `orders` orders are left out (histories stay whole:
    cutting the draw short would make a process BG/NBD cannot describe)."""
    params = bgnbd.BgNbdParams(r=1.5, alpha=47.0, a=1.0, b=12.0)
    first = rng.integers(0, 1095, customers)
    rate = rng.gamma(params.r, 1 / params.alpha, customers)
    dropout = rng.beta(params.a, params.b, customers)
    owner, day = [np.arange(customers)], [first.astype(np.float64)]
    now = first.astype(np.float64)
    active = np.ones(customers, dtype=bool)
    while active.any():
        index = np.flatnonzero(active)
        now[index] += rng.exponential(1.0, len(index)) / rate[index]
        bought = now[index] < 1095
        buyers = index[bought]
        active[index[~bought]] = False
        owner.append(buyers)
        day.append(now[buyers].copy())
        active[buyers[rng.random(len(buyers)) < dropout[buyers]]] = False
    who, when = np.concatenate(owner), np.floor(np.concatenate(day)).astype(np.int64)
    counts = np.bincount(who, minlength=customers)
    kept = int(np.searchsorted(np.cumsum(counts), orders, side="right"))
    keep = who < kept
    return who[keep], when[keep]


async def load(url: str, workspace_id: uuid.UUID, customers: int, orders: int) -> tuple[int, date]:
    from app.ids import new_id

    rng = np.random.default_rng(SEED)
    who, when = _orders(customers, orders, rng)
    start = date(2023, 7, 1)
    as_of = start + timedelta(days=1094)
    now = datetime.now(UTC)
    contact_ids = [new_id() for _ in range(customers)]
    conn = await asyncpg.connect(url)
    try:
        await conn.copy_records_to_table(
            "contacts",
            columns=["workspace_id", "id", "first_name", "email", "tags", "interests", "country", "acquisition_channel",
                     "created_at", "updated_at", "created_by", "updated_by"],
            records=[(workspace_id, cid, f"C{i}", f"c{i}@bench.example", json.dumps(["vip"] if i % 10 == 0 else []),
                      "[]", ("DE", "IR", "US", None)[i % 4], ("google", "instagram", "referral")[i % 3], now, now,
                      "bench", "bench") for i, cid in enumerate(contact_ids)],
        )  # fmt: skip
        # Order values from the Gamma-Gamma process: each customer's mean spend varies around the
        # population's, each order around the customer's (in cents).
        p, q, v = SPEND
        nu = rng.gamma(q, 1 / v, customers)
        totals = np.maximum(np.rint(100 * rng.gamma(p, 1 / nu[who])), 1).astype(np.int64)
        status = np.where(rng.random(len(who)) < 0.03, "cancelled", "paid")
        batch = 100_000
        for begin in range(0, len(who), batch):
            records = []
            for k in range(begin, min(begin + batch, len(who))):
                placed_on = start + timedelta(days=int(when[k]))
                placed_at = datetime(placed_on.year, placed_on.month, placed_on.day, 12, tzinfo=UTC)
                records.append((
                    workspace_id, new_id(), "shopify", str(k), contact_ids[who[k]], str(status[k]), "USD",
                    int(totals[k]), "USD", int(totals[k]), "same", placed_at, placed_on, placed_at, "[]", "h",
                    now, now, "bench", "bench",
                ))  # fmt: skip
            await conn.copy_records_to_table(
                "orders",
                columns=["workspace_id", "id", "source", "external_id", "contact_id", "status", "currency",
                         "total_minor", "reporting_currency", "reporting_total_minor", "conversion", "placed_at",
                         "placed_on", "source_updated_at", "line_items", "content_hash", "created_at", "updated_at",
                         "created_by", "updated_by"],
                records=records,
            )  # fmt: skip
            await conn.copy_records_to_table(
                "order_lines",
                columns=["workspace_id", "order_id", "position", "sku", "name", "category", "quantity",
                         "unit_price_minor", "total_minor"],
                records=[(workspace_id, r[1], position, category.upper(), category, category, 1, int(r[7]), int(r[7]))
                         for k, r in enumerate(records)
                         for position, category in enumerate(CATEGORIES[(k % 7):(k % 7) + 1 + (k % 2)])],
            )  # fmt: skip
        await conn.execute("ANALYZE contacts; ANALYZE orders; ANALYZE order_lines")
    finally:
        await conn.close()
    return len(who), as_of


async def baseline(url: str, workspace_id: uuid.UUID, as_of: date) -> float:
    """The per-customer summary alone (the same two GROUP BYs), fetched with raw asyncpg."""
    sql = """
        SELECT contact_id, min(day), max(day), count(*), sum(value)
        FROM (SELECT contact_id, placed_on AS day,
                     sum(reporting_total_minor - coalesce(reporting_refunded_minor, 0)) AS value
              FROM orders WHERE workspace_id = $1 AND contact_id IS NOT NULL
                AND status IN ('paid', 'fulfilled', 'partially_refunded') AND placed_on <= $2
              GROUP BY contact_id, placed_on) d
        GROUP BY contact_id"""
    conn = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        rows = await conn.fetch(sql, workspace_id, as_of)
        elapsed = time.perf_counter() - started
    finally:
        await conn.close()
    assert rows
    return elapsed


async def refresh_benchmark(customers: int, orders: int) -> None:
    name = f"crm_bench_{uuid.uuid4().hex[:8]}"
    url = postgres.database_url(name)
    api = None
    try:
        await _admin(f'CREATE DATABASE "{name}"')
        env = {"DATABASE_URL": url, "LOG_LEVEL": "warning", "RATE_LIMIT_ENABLED": "false"}
        _cli(env, "migrate")
        keys = json.loads(_cli(env, "create-workspace", "Bench", "--json"))
        workspace_id = uuid.UUID(keys["workspace_id"])
        started = time.perf_counter()
        loaded, as_of = await load(url, workspace_id, customers, orders)
        load_seconds = time.perf_counter() - started
        base = min([await baseline(url, workspace_id, as_of) for _ in range(3)])
        api, port = _start(["-m", "app", "serve"], env, "/readyz")
        await asyncio.sleep(1)
        tree = process_tree(api.pid)
        idle = peak_rss_mb(tree[1])
        headers = {"Authorization": f"Bearer {keys['secret_key']}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=600, headers=headers) as client:
            started = time.perf_counter()
            response = await client.post("/v1/analytics/refresh", json={"as_of": as_of.isoformat()})
            assert response.status_code == 202, response.text
            while True:
                job = (await client.get(response.headers["location"])).json()
                if job["status"] in ("succeeded", "failed"):
                    break
                await asyncio.sleep(0.2)
            total = time.perf_counter() - started
            assert job["status"] == "succeeded", job
            model = (await client.get("/v1/analytics/model")).json()
        worker_peak = peak_rss_mb(tree[1])
        print(f"\n## Refresh on PostgreSQL: {model['customers']:,} customers, {loaded:,} orders "
              f"(loaded with COPY in {load_seconds:.0f} s)\n")  # fmt: skip
        print("| refresh s (job queued → succeeded) | models s | worker peak RSS MB (idle) | summary query alone s "
              "| refresh / summary |")  # fmt: skip
        print("|---:|---:|---:|---:|---:|")
        print(f"| {total:.1f} | {model['fit_seconds']:.1f} | {worker_peak:.0f} ({idle:.0f}) | {base:.2f} "
              f"| {total / base:.1f} |")  # fmt: skip
        print(f"\nmodel {model['model']}: BG/NBD {model['bgnbd']}, Gamma-Gamma {model['gamma_gamma']}, "
              f"repeat buyers {model['repeat_buyers']:,}")  # fmt: skip
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60, headers=headers) as client:
            segments = (await client.get("/v1/analytics/rfm")).json()["segments"]
            at_risk = (await client.get("/v1/analytics/churn", params={"limit": 1})).json()["data"]
            cohorts = (await client.get("/v1/analytics/cohorts")).json()["cohorts"]
        print(
            "RFM: "
            + ", ".join(f"{s['segment']} {s['customers']:,}" for s in segments)
            + f"; {len(cohorts)} cohorts; most CLV at risk: {at_risk[0]['clv_at_risk'] if at_risk else None}"
        )
    finally:
        if api is not None:
            api.terminate()
            api.wait(timeout=30)
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-fit", action="store_true")
    parser.add_argument(
        "--compare-root", type=Path, help="also fit with the `app` package of this source tree (e.g. an older revision)"
    )
    parser.add_argument("--skip-refresh", action="store_true")
    args = parser.parse_args()
    if not args.skip_fit:
        fit_benchmark(args.customers, args.runs, args.compare_root)
    if not args.skip_refresh:
        await refresh_benchmark(args.customers, args.orders)


if __name__ == "__main__":
    if "--skip-refresh" in sys.argv:  # the fit alone needs no database
        sys.exit(asyncio.run(main()))
    with postgres.server():
        sys.exit(asyncio.run(main()))
