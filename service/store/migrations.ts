/**
 * Schema migrations, applied in order, for both engines: each step is written once per
 * SQL dialect, side by side, so the two schemas cannot drift apart. SQLite records how many
 * ran in `PRAGMA user_version`, PostgreSQL in the `schema_version` table.
 * Never edit a migration that has shipped: add the next one.
 *
 * The invariants the service relies on are the database's to enforce, in both engines:
 * - an item is sealed into at most one batch, and never moves (`evidence_batch_fixed`);
 * - a root belongs to one batch (`batches.root UNIQUE`);
 * - an issued certificate is never changed or deleted (`issued_certificates_*` triggers,
 *   TRUNCATE included in PostgreSQL).
 */
export interface Migration {
  name: string;
  sqlite: string;
  postgres: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    name: "accounts, evidence, batches, certificates",
    sqlite: `
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
    postgres: `
  CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
  );

  CREATE TABLE batches (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    root          TEXT NOT NULL UNIQUE,
    tree_size     BIGINT NOT NULL,
    sealed_at     TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('sealed', 'anchored')),
    tx_hash       TEXT,
    tx_sent_at    TEXT,
    send_count    INTEGER NOT NULL DEFAULT 0,
    anchor_tx     TEXT,
    block_number  BIGINT,
    block_hash    TEXT,
    timestamp     BIGINT,
    anchored_at   TEXT
  );

  CREATE TABLE evidence (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    account_id    TEXT NOT NULL REFERENCES accounts(id),
    record        TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    leaf_hash     TEXT NOT NULL,
    file_stored   INTEGER NOT NULL,
    created_at    TEXT NOT NULL,
    batch_id      BIGINT REFERENCES batches(id),
    leaf_index    BIGINT,
    UNIQUE (batch_id, leaf_index)
  );
  CREATE INDEX evidence_pending ON evidence(seq) WHERE batch_id IS NULL;
  CREATE INDEX evidence_account ON evidence(account_id, seq);

  CREATE TABLE certificates (
    evidence_id   TEXT PRIMARY KEY REFERENCES evidence(id),
    certificate   TEXT NOT NULL,
    issued_at     TEXT NOT NULL
  );

  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  `,
  },
  {
    name: "certificate history, batch time-stamps, captures, checkpoints, leases",
    sqlite: `
  CREATE TABLE issued_certificates (
    seq           INTEGER PRIMARY KEY,
    evidence_id   TEXT NOT NULL REFERENCES evidence(id),
    batch_id      INTEGER NOT NULL REFERENCES batches(id),
    reason        TEXT NOT NULL CHECK (reason IN ('anchored', 're-anchored', 'time-stamped')),
    block_number  INTEGER NOT NULL,
    certificate   TEXT NOT NULL,
    issued_at     TEXT NOT NULL
  ) STRICT;
  CREATE INDEX issued_certificates_evidence ON issued_certificates(evidence_id, seq);
  INSERT INTO issued_certificates (evidence_id, batch_id, reason, block_number, certificate, issued_at)
    SELECT c.evidence_id, e.batch_id, 'anchored', b.block_number, c.certificate, c.issued_at
    FROM certificates c JOIN evidence e ON e.id = c.evidence_id JOIN batches b ON b.id = e.batch_id
    ORDER BY e.seq;
  DROP TABLE certificates;
  CREATE TRIGGER issued_certificates_unchanged BEFORE UPDATE ON issued_certificates
    BEGIN SELECT RAISE(ABORT, 'an issued certificate is never changed'); END;
  CREATE TRIGGER issued_certificates_kept BEFORE DELETE ON issued_certificates
    BEGIN SELECT RAISE(ABORT, 'an issued certificate is never deleted'); END;
  CREATE TRIGGER evidence_batch_fixed BEFORE UPDATE OF batch_id, leaf_index ON evidence
    WHEN OLD.batch_id IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'an item sealed into a batch never moves'); END;

  ALTER TABLE batches ADD COLUMN timestamps TEXT NOT NULL DEFAULT '[]';  -- RFC 3161 tokens on the root (JSON)
  ALTER TABLE batches ADD COLUMN lost_at TEXT;                           -- when the chain was found without its anchor

  CREATE TABLE captures (
    id            TEXT PRIMARY KEY,     -- the evidence id the capture's record will have
    account_id    TEXT NOT NULL REFERENCES accounts(id),
    url           TEXT NOT NULL,
    request       TEXT NOT NULL,
    requested_at  TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('queued', 'capturing', 'recorded', 'failed')),
    error         TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0
  ) STRICT;
  CREATE INDEX captures_unfinished ON captures(requested_at) WHERE status IN ('queued', 'capturing');

  CREATE TABLE checkpoints (
    block_number  INTEGER PRIMARY KEY,
    block_hash    TEXT NOT NULL,
    chain_id      INTEGER NOT NULL,
    taken_at      TEXT NOT NULL,
    timestamps    TEXT NOT NULL
  ) STRICT;

  CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    fence       INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL      -- milliseconds since the epoch
  ) STRICT;
  `,
    postgres: `
  CREATE TABLE issued_certificates (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    evidence_id   TEXT NOT NULL REFERENCES evidence(id),
    batch_id      BIGINT NOT NULL REFERENCES batches(id),
    reason        TEXT NOT NULL CHECK (reason IN ('anchored', 're-anchored', 'time-stamped')),
    block_number  BIGINT NOT NULL,
    certificate   TEXT NOT NULL,
    issued_at     TEXT NOT NULL
  );
  CREATE INDEX issued_certificates_evidence ON issued_certificates(evidence_id, seq);
  INSERT INTO issued_certificates (evidence_id, batch_id, reason, block_number, certificate, issued_at)
    SELECT c.evidence_id, e.batch_id, 'anchored', b.block_number, c.certificate, c.issued_at
    FROM certificates c JOIN evidence e ON e.id = c.evidence_id JOIN batches b ON b.id = e.batch_id
    ORDER BY e.seq;
  DROP TABLE certificates;
  CREATE FUNCTION evidence_anchor_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION '%', TG_ARGV[0]; END $$;
  CREATE TRIGGER issued_certificates_unchanged BEFORE UPDATE ON issued_certificates
    FOR EACH ROW EXECUTE FUNCTION evidence_anchor_refuse('an issued certificate is never changed');
  CREATE TRIGGER issued_certificates_kept BEFORE DELETE ON issued_certificates
    FOR EACH ROW EXECUTE FUNCTION evidence_anchor_refuse('an issued certificate is never deleted');
  CREATE TRIGGER evidence_batch_fixed BEFORE UPDATE OF batch_id, leaf_index ON evidence
    FOR EACH ROW WHEN (OLD.batch_id IS NOT NULL)
    EXECUTE FUNCTION evidence_anchor_refuse('an item sealed into a batch never moves');

  ALTER TABLE batches ADD COLUMN timestamps TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE batches ADD COLUMN lost_at TEXT;

  CREATE TABLE captures (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts(id),
    url           TEXT NOT NULL,
    request       TEXT NOT NULL,
    requested_at  TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('queued', 'capturing', 'recorded', 'failed')),
    error         TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX captures_unfinished ON captures(requested_at) WHERE status IN ('queued', 'capturing');

  CREATE TABLE checkpoints (
    block_number  BIGINT PRIMARY KEY,
    block_hash    TEXT NOT NULL,
    chain_id      BIGINT NOT NULL,
    taken_at      TEXT NOT NULL,
    timestamps    TEXT NOT NULL
  );

  CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    fence       BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
  );
  `,
  },
  {
    name: "issued certificates cannot be truncated",
    // SQLite has no TRUNCATE: a DELETE without WHERE still fires issued_certificates_kept.
    sqlite: `SELECT 1;`,
    postgres: `
  CREATE TRIGGER issued_certificates_not_truncated BEFORE TRUNCATE ON issued_certificates
    FOR EACH STATEMENT EXECUTE FUNCTION evidence_anchor_refuse('an issued certificate is never deleted');
  `,
  },
  {
    // Version 2 certificates of a batch differ only in their record and proof, both already
    // stored: a batch is certified by storing its signed statement once, and the tree's upper
    // levels so any proof is read from them and one 256-leaf block. Certifying 100,000 items
    // writes two rows instead of 200 MB. The committed parts of an item are fixed from intake
    // on, so a certificate assembled from them never changes.
    name: "batch certificates: one signed statement per batch",
    sqlite: `
  CREATE TABLE batch_certificates (
    seq           INTEGER PRIMARY KEY,
    batch_id      INTEGER NOT NULL REFERENCES batches(id),
    reason        TEXT NOT NULL CHECK (reason IN ('anchored', 're-anchored', 'time-stamped')),
    block_number  INTEGER NOT NULL,
    statement     TEXT NOT NULL,        -- the signed batch statement (JSON), certificate version 2
    signature     TEXT NOT NULL,
    issued_at     TEXT NOT NULL
  ) STRICT;
  CREATE INDEX batch_certificates_batch ON batch_certificates(batch_id, seq);
  CREATE TRIGGER batch_certificates_unchanged BEFORE UPDATE ON batch_certificates
    BEGIN SELECT RAISE(ABORT, 'an issued certificate is never changed'); END;
  CREATE TRIGGER batch_certificates_kept BEFORE DELETE ON batch_certificates
    BEGIN SELECT RAISE(ABORT, 'an issued certificate is never deleted'); END;

  CREATE TABLE batch_trees (
    batch_id  INTEGER PRIMARY KEY REFERENCES batches(id),
    upper     BLOB NOT NULL             -- the RFC 6962 tree's levels from 256-leaf blocks up, end to end
  ) STRICT;
  CREATE TRIGGER batch_trees_unchanged BEFORE UPDATE ON batch_trees
    BEGIN SELECT RAISE(ABORT, 'a batch tree is never changed'); END;
  CREATE TRIGGER batch_trees_kept BEFORE DELETE ON batch_trees
    BEGIN SELECT RAISE(ABORT, 'a batch tree is never deleted'); END;

  CREATE TRIGGER evidence_committed_fixed BEFORE UPDATE OF id, record, leaf_hash ON evidence
    BEGIN SELECT RAISE(ABORT, 'a committed record never changes'); END;
  `,
    // No foreign keys to batches here: PostgreSQL refuses a TRUNCATE of a referenced table
    // before any trigger runs, and the triggers are what say why the history cannot go. Both
    // rows are written in the transaction that marks their batch anchored.
    postgres: `
  CREATE TABLE batch_certificates (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    batch_id      BIGINT NOT NULL,
    reason        TEXT NOT NULL CHECK (reason IN ('anchored', 're-anchored', 'time-stamped')),
    block_number  BIGINT NOT NULL,
    statement     TEXT NOT NULL,
    signature     TEXT NOT NULL,
    issued_at     TEXT NOT NULL
  );
  CREATE INDEX batch_certificates_batch ON batch_certificates(batch_id, seq);
  CREATE TRIGGER batch_certificates_unchanged BEFORE UPDATE ON batch_certificates
    FOR EACH ROW EXECUTE FUNCTION evidence_anchor_refuse('an issued certificate is never changed');
  CREATE TRIGGER batch_certificates_kept BEFORE DELETE ON batch_certificates
    FOR EACH ROW EXECUTE FUNCTION evidence_anchor_refuse('an issued certificate is never deleted');
  CREATE TRIGGER batch_certificates_not_truncated BEFORE TRUNCATE ON batch_certificates
    FOR EACH STATEMENT EXECUTE FUNCTION evidence_anchor_refuse('an issued certificate is never deleted');

  CREATE TABLE batch_trees (
    batch_id  BIGINT PRIMARY KEY,
    upper     BYTEA NOT NULL
  );
  CREATE TRIGGER batch_trees_unchanged BEFORE UPDATE ON batch_trees
    FOR EACH ROW EXECUTE FUNCTION evidence_anchor_refuse('a batch tree is never changed');
  CREATE TRIGGER batch_trees_kept BEFORE DELETE ON batch_trees
    FOR EACH ROW EXECUTE FUNCTION evidence_anchor_refuse('a batch tree is never deleted');
  CREATE TRIGGER batch_trees_not_truncated BEFORE TRUNCATE ON batch_trees
    FOR EACH STATEMENT EXECUTE FUNCTION evidence_anchor_refuse('a batch tree is never deleted');

  CREATE TRIGGER evidence_committed_fixed BEFORE UPDATE OF id, record, leaf_hash ON evidence
    FOR EACH ROW EXECUTE FUNCTION evidence_anchor_refuse('a committed record never changes');
  `,
  },
  {
    // GET /api/v1/captures: an account's captures that are not evidence, newest first. Most
    // captures end recorded, so the index holds only the few that are not.
    name: "an account's unrecorded captures, by index",
    sqlite: `
  CREATE INDEX captures_account ON captures(account_id, requested_at, id) WHERE status <> 'recorded';
  `,
    postgres: `
  CREATE INDEX captures_account ON captures(account_id, requested_at, id) WHERE status <> 'recorded';
  `,
  },
  {
    // A recorded capture's evidence row refers to its manifest; the manifest to the capture's
    // other files, which no row named. A failed upload of the same bytes as one of them then
    // found it unreferenced and removed it. Each recorded capture's files are listed here, in
    // the transaction that records it; captures recorded before are listed from their
    // manifests at the next start (capture/capture-files.ts).
    name: "the files a recorded capture refers to",
    sqlite: `
  CREATE TABLE capture_files (
    seq           INTEGER PRIMARY KEY,
    evidence_id   TEXT NOT NULL REFERENCES evidence(id),
    content_hash  TEXT NOT NULL,
    UNIQUE (evidence_id, content_hash)
  ) STRICT;
  CREATE INDEX capture_files_content ON capture_files(content_hash);
  `,
    // No foreign key in PostgreSQL, as for batch_certificates: a TRUNCATE of evidence must
    // reach the trigger that says why it is refused.
    postgres: `
  CREATE TABLE capture_files (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    evidence_id   TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    UNIQUE (evidence_id, content_hash)
  );
  CREATE INDEX capture_files_content ON capture_files(content_hash);
  `,
  },
];
