"""sensitive custom fields

- `custom_fields.sensitive`: a field whose values (a person's religion, ethnicity) only a key with
  `sensitive:read` reads, one lead at a time, and that no list, export, event or webhook carries.
  Every existing field is not sensitive (false), as it behaved until now: no row's behaviour changes.
- The downgrade refuses while any field is sensitive: the older code would show those values in
  every list, export, event and webhook (a downgrade never widens what a key may read). Unmark them
  (`PATCH /v1/custom-fields/{id} {"sensitive": false}`) knowingly, or remove their values, first.

Revision ID: 0045
Revises: 0044
Create Date: 2026-12-08 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0045"
down_revision: str | None = "0044"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("custom_fields", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sensitive", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    marked = op.get_bind().execute(sa.text("SELECT count(*) FROM custom_fields WHERE sensitive")).scalar_one()
    if marked:
        raise RuntimeError(
            f"{marked} custom field(s) are sensitive: below revision 0045 their values would show in every list, "
            "export, event and webhook. Unmark them (PATCH /v1/custom-fields/{id} with sensitive false) or remove "
            "their values first."
        )
    with op.batch_alter_table("custom_fields", schema=None) as batch_op:
        batch_op.drop_column("sensitive")
