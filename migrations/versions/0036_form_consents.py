"""form consents: a form's checkboxes that give a channel's consent, with the text they showed

- `forms.consents`: `[{"field", "channel", "text"}]` (null: the form asks for no consent, as
  every form did before).

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


def downgrade() -> None:
    with op.batch_alter_table("forms", schema=None) as batch_op:
        batch_op.drop_column("consents")
