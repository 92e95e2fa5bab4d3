"""form consents; delivery reports that arrive before the hand-off is recorded

- `forms.consents`: `[{"field", "channel", "text"}]` (null: the form asks for no consent, as
  every form did before).
- `messages.early_report`: a provider's delivery report for a message still `sending` (it names
  our message id), applied when the worker records the hand-off (null: none).

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-06 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0036"
down_revision: str | None = "0035"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("forms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("consents", JSON, nullable=True))
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("early_report", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("early_report")
    with op.batch_alter_table("forms", schema=None) as batch_op:
        batch_op.drop_column("consents")
