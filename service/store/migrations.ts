/**
 * Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
 * Never edit a migration that has shipped: add the next one.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: accounts, evidence, batches, certificates
  `
  CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,   -- SHA-256 of the API key; the key itself is never stored
    created_at  TEXT NOT NULL
  ) STRICT;

  CREATE TABLE batches (
    id            INTEGER PRIMARY KEY,
    root          TEXT NOT NULL UNIQUE,
    tree_size     INTEGER NOT NULL,
    sealed_at     TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('sealed', 'anchored')),
    tx_hash       TEXT,                 -- the last transaction sent for it, if any
    tx_sent_at    TEXT,
    send_count    INTEGER NOT NULL DEFAULT 0,
    anchor_tx     TEXT,                 -- the transaction that anchored it
    block_number  INTEGER,
    block_hash    TEXT,
    timestamp     INTEGER,
    anchored_at   TEXT
  ) STRICT;

  CREATE TABLE evidence (
    seq           INTEGER PRIMARY KEY,  -- intake order: batches take the oldest first
    id            TEXT NOT NULL UNIQUE,
    account_id    TEXT NOT NULL REFERENCES accounts(id),
    record        TEXT NOT NULL,        -- JCS of the record: exactly the committed bytes
    content_hash  TEXT NOT NULL,
    leaf_hash     TEXT NOT NULL,
    file_stored   INTEGER NOT NULL,     -- 1 when the file itself is kept under objects/
    created_at    TEXT NOT NULL,
    batch_id      INTEGER REFERENCES batches(id),
    leaf_index    INTEGER,
    UNIQUE (batch_id, leaf_index)
  ) STRICT;
  CREATE INDEX evidence_pending ON evidence(seq) WHERE batch_id IS NULL;
  CREATE INDEX evidence_account ON evidence(account_id, seq);

  CREATE TABLE certificates (
    evidence_id   TEXT PRIMARY KEY REFERENCES evidence(id),
    certificate   TEXT NOT NULL,
    issued_at     TEXT NOT NULL
  ) STRICT;

  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) STRICT;
  `,
];
