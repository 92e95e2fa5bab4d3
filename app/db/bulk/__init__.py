"""The unit of work's writers: how queued and batched rows reach the database in as few
statements as possible, each module one way of writing.

- `write_behind`: the rows and events a use case queued, written at commit (one statement on
  PostgreSQL); `group_commit`: such statements of concurrent units combined into one.
- `copy`: a batch of rows inserted now (COPY on PostgreSQL).
- `json_update`: many rows updated by id in one statement (a JSON document, or arrays).
- `positional`: prebuilt reads run straight on the driver, outside the transaction.
- `columns`: the column lists and bind processors they share."""
