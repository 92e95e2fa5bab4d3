"""The files under examples/ that the README uses: the webhook receiver checks signatures as the
API makes them, and the sample CSVs import as the README says."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from standardwebhooks import Webhook

from app.domain.customers.imports import ORDER_TARGETS
from examples.webhook_receiver import verified
from tests.integration.server import ROOT

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _signed(body: str, *, at: datetime, secret: str = SECRET) -> dict[str, str]:
    message_id = "01a24a18-4739-7036-bd12-95715f7e08e3"
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body),
    }


def test_the_receiver_accepts_what_the_api_signs_and_nothing_else() -> None:
    body = json.dumps({"type": "webhook.test", "id": "e1"})
    now = datetime.now(UTC)
    assert verified(SECRET, _signed(body, at=now), body.encode())
    # two signatures during a secret rotation: one that matches is enough
    rotated = _signed(body, at=now)
    rotated["webhook-signature"] = "v1,bm90IHRoaXMgb25l " + rotated["webhook-signature"]
    assert verified(SECRET, rotated, body.encode())
    assert not verified(SECRET, _signed(body, at=now), body.encode() + b" ")  # the body was changed
    other = "whsec_" + "QkFEQkFEQkFEQkFEQkFEQkFEQkFEQkFE"
    assert not verified(SECRET, _signed(body, at=now, secret=other), body.encode())
    assert not verified(SECRET, _signed(body, at=now - timedelta(minutes=10)), body.encode())  # replayed later
    assert not verified(SECRET, {}, body.encode())


def test_the_sample_orders_file_names_only_order_columns() -> None:
    header = (ROOT / "examples" / "orders.csv").read_text().splitlines()[0].split(",")
    assert set(header) <= set(ORDER_TARGETS), set(header) - set(ORDER_TARGETS)
    assert {"line_sku", "line_quantity", "line_unit_price"} <= set(header)
