import type { Certificate, EvidenceRecord, EvidenceStatus, Hex32, IssueReason, TimestampToken } from "../core/index.ts";
import type { StoredIssue } from "./batch-certificates.ts";
import type { Account, AnchoredBatch, CaptureRow, EvidenceRow, SealedBatch } from "./store.ts";

/**
 * The rows both engines read, as the database returns them (snake_case, JSON as text),
 * and their mapping to the store contract's types: one mapping, whichever engine.
 */

export interface RawAccount {
  id: string;
  name: string;
  key_hash: string;
  created_at: string;
}

export function toAccount(row: RawAccount): Account {
  return { id: row.id, name: row.name, keyHash: row.key_hash, createdAt: row.created_at };
}

export interface RawEvidence {
  id: string;
  account_id: string;
  record: string;
  file_stored: number;
  status: EvidenceStatus;
  lost_at: string | null;
}

/** An item's row; its certificate (the latest issued, when anchored) is rebuilt from its batch's. */
export function toEvidenceRow(row: RawEvidence, certificate: Certificate | null): EvidenceRow {
  return {
    id: row.id,
    accountId: row.account_id,
    record: JSON.parse(row.record) as EvidenceRecord,
    status: row.status,
    certificate,
    reanchoring: row.status !== "anchored" && row.lost_at !== null,
    fileStored: row.file_stored === 1,
  };
}

export interface RawBatch {
  id: number;
  root: Hex32;
  tree_size: number;
  sealed_at: string;
  tx_hash: Hex32 | null;
  tx_sent_at: string | null;
  send_count: number;
  anchor_tx: Hex32 | null;
  block_number: number | null;
  block_hash: Hex32 | null;
  timestamp: number | null;
  timestamps: string;
  lost_at: string | null;
}

export function toAnchoredBatch(b: RawBatch): AnchoredBatch {
  return {
    id: b.id,
    root: b.root,
    treeSize: b.tree_size,
    anchor: { txHash: b.anchor_tx!, blockNumber: b.block_number!, blockHash: b.block_hash!, timestamp: b.timestamp! },
    timestamps: JSON.parse(b.timestamps) as TimestampToken[],
  };
}

export interface RawCapture {
  id: string;
  account_id: string;
  url: string;
  request: string;
  requested_at: string;
  status: CaptureRow["status"];
  error: string | null;
  attempts: number;
}

export function toCapture(row: RawCapture): CaptureRow {
  return {
    id: row.id,
    accountId: row.account_id,
    url: row.url,
    request: row.request,
    requestedAt: row.requested_at,
    status: row.status,
    error: row.error === null ? null : (JSON.parse(row.error) as { code: string; message: string }),
    attempts: row.attempts,
  };
}

export function toSealedBatch(b: RawBatch): SealedBatch {
  return {
    id: b.id,
    root: b.root,
    treeSize: b.tree_size,
    sealedAt: b.sealed_at,
    txHash: b.tx_hash,
    txSentAt: b.tx_sent_at,
    sendCount: b.send_count,
    timestamps: JSON.parse(b.timestamps) as TimestampToken[],
    lostAt: b.lost_at,
  };
}

/** A certificate issued for one item (version 1): a row of issued_certificates. */
export interface RawItemIssue {
  seq: number;
  reason: IssueReason;
  block_number: number;
  certificate: string;
  issued_at: string;
}

export function toItemIssue(r: RawItemIssue): StoredIssue {
  return {
    kind: "item",
    seq: r.seq,
    reason: r.reason,
    blockNumber: r.block_number,
    issuedAt: r.issued_at,
    certificate: r.certificate,
  };
}

/** A batch's signed statement (version 2): a row of batch_certificates. */
export interface RawBatchIssue {
  seq: number;
  reason: IssueReason;
  block_number: number;
  statement: string;
  signature: string;
  issued_at: string;
}

export function toBatchIssue(r: RawBatchIssue): StoredIssue {
  return {
    kind: "batch",
    seq: r.seq,
    reason: r.reason,
    blockNumber: r.block_number,
    issuedAt: r.issued_at,
    statement: r.statement,
    signature: r.signature,
  };
}
