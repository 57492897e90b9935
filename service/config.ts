import { readFileSync } from "node:fs";
import path from "node:path";
import type { BatchLimits } from "./anchoring/seal-batch.ts";
import type { LogFormat } from "./log.ts";
import { MAX_DOCUMENT_BYTES } from "./core/index.ts";

/** Everything the service reads from its environment, with the embedded defaults. */
export interface ServiceConfig {
  dataDir: string;
  host: string;
  port: number;
  /** The URL printed for users and encoded in QR codes; derived from host and port unless PUBLIC_URL is set. */
  publicUrl: string | undefined;
  /** PostgreSQL (several replicas); unset: SQLite in the data directory. */
  databaseUrl: string | undefined;
  objects: {
    /** A directory for evidence files, e.g. on shared storage; unset: the data directory. */
    dir: string | undefined;
    /** An S3-compatible store, e.g. `s3://bucket/prefix?endpoint=https://…&region=…`. */
    url: string | undefined;
  };
  chain: {
    /** An external chain; when absent a local chain is started under the data directory. */
    rpcUrl: string | undefined;
    /** The EvidenceAnchor address on an external chain. */
    contract: string | undefined;
    /**
     * Earlier registries of the same chain whose certificates stay valid (a consortium that
     * deployed a new one): trusted beside the service's own when it verifies.
     */
    trustedContracts: string[];
    /** The external chain's id, if known in advance: checked against the node, and lets a first start go on while the node is down. */
    chainId: number | undefined;
    localPort: number;
    /** Seconds between blocks of the local chain; 0 (the default) makes a block for each transaction. */
    localBlockTime: number;
    /** How the embedded node is shut in: its own network namespace where allowed ("auto"), or loopback only. */
    localIsolation: "auto" | "network-namespace" | "loopback";
    confirmations: number;
    /** Gas price in wei for legacy transactions; 0 on zero-gas consortium chains. */
    gasPrice: bigint | undefined;
    /** Send type-0 (pre-EIP-1559) transactions. */
    legacyTransactions: boolean;
    /** How long to wait for a receipt before the transaction is sent again (the contract refuses a duplicate). */
    receiptTimeoutMs: number;
    /** Display names of chains by id, e.g. `31337=本地开发链 Local development chain`. */
    names: Record<number, string>;
    /** How often anchored batches are checked against the chain. */
    reconcileIntervalMs: number;
    /** How long the anchoring lease lasts unless renewed: another replica takes over within this after a crash. */
    leaseMs: number;
  };
  issuer: {
    /** Encrypted JSON keystore of the anchoring and issuing key (production). */
    keystorePath: string | undefined;
    keystorePassword: string | undefined;
    /**
     * Keystores of keys this service issued under before a rotation: a batch one of them
     * anchored but had not yet certified is certified with it (its certificates must name the
     * key that anchored them). Decrypted with `previousKeystoresPassword`.
     */
    previousKeystores: string[];
    previousKeystoresPassword: string | undefined;
    name: string;
    /** The certificate version issued: 2 (one signature per batch) or 1. */
    certificateVersion: 1 | 2;
  };
  batch: BatchLimits;
  limits: {
    fileSizeBytes: number;
    filesPerRequest: number;
    /** Submission units per account per minute: a request, or one digest. */
    submissionsPerMinute: number;
    /** Requests (RPC calls, certificates verified) per client address per minute on the anonymous routes. */
    anonymousPerMinute: number;
    /** Open connections per client address. */
    connectionsPerAddress: number;
    /** Open connections in all; more are closed at once, so descriptors remain for files, the database and the chain node. */
    connections: number;
    /** The whole body of an /rpc request must arrive within this (RPC_BODY_TIMEOUT_MS). */
    rpcBodyTimeoutMs: number;
    /** Memory verify requests may hold for bodies, all together (VERIFY_BUFFER_BYTES). */
    verifyBufferBytes: number;
    /**
     * The part of it the requests of one client address may hold (VERIFY_BUFFER_BYTES_PER_ADDRESS;
     * half of it, and at least one request's worth, unless set; behind a load balancer, where every
     * client has the balancer's address, all of it).
     */
    verifyBufferBytesPerAddress: number;
    /**
     * Disk verify requests may fill with capture packages too large to hold in memory, all
     * together, in DATA_DIR/verify-spool (VERIFY_SPOOL_BYTES; 0: none, such a package could not be verified).
     */
    verifySpoolBytes: number;
    /**
     * The part of it the requests of one client address may fill (VERIFY_SPOOL_BYTES_PER_ADDRESS;
     * half of it unless set, but room for one package of MAX_FILE_BYTES): one client's slow
     * uploads leave the others room.
     */
    verifySpoolBytesPerAddress: number;
    /** Certificate documents one client address may have made or waiting, of the 16 held (DOCUMENTS_PER_ADDRESS). */
    documentsPerAddress: number;
  };
  timestamps: {
    /** RFC 3161 time-stamp authorities; every root is stamped by each. Unset on the embedded chain: the development TSA. */
    urls: string[] | undefined;
    /** PEM bundle of the TSA roots the service's own verifier trusts. */
    trustFile: string | undefined;
    /** Certificates wait for every token instead of being upgraded when it comes. */
    required: boolean;
    timeoutMs: number;
    /** How often the chain's newest block hash is time-stamped (CHECKPOINT_INTERVAL, seconds; 0: never). */
    checkpointIntervalMs: number;
  };
  capture: {
    /** CIDRs that captures may reach although private, loopback or link-local (tests, intranets). */
    allow: string[];
    concurrency: number;
    queueLimit: number;
    timeoutMs: number;
    chromiumPath: string;
  };
  /** Create a development account and print its key on first start. */
  devAccount: boolean;
  /** Operators' token for the full `/healthz`; unset: loopback only. */
  healthToken: string | undefined;
  log: { level: string; format: LogFormat | undefined };
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  const embedded = env.CHAIN_RPC_URL === undefined;
  const fileSizeBytes = int(env, "MAX_FILE_BYTES", 2 * 1024 ** 3, 1, Number.MAX_SAFE_INTEGER);
  const spoolBytes = int(env, "VERIFY_SPOOL_BYTES", 4 * 1024 ** 3, 0, Number.MAX_SAFE_INTEGER);
  // At least one request's worth: a capture package as the certificate and another as the file.
  const bufferBytes = int(env, "VERIFY_BUFFER_BYTES", 256 * 1024 ** 2, 2 * MAX_DOCUMENT_BYTES, Number.MAX_SAFE_INTEGER);
  return {
    dataDir: path.resolve(env.DATA_DIR ?? "data"),
    host: env.HOST ?? "127.0.0.1",
    port: int(env, "PORT", 8080, 0, 65_535),
    publicUrl: url(env, "PUBLIC_URL"),
    databaseUrl: optional(env, "DATABASE_URL"),
    objects: { dir: optional(env, "OBJECTS_DIR"), url: optional(env, "OBJECT_STORE_URL") },
    chain: {
      rpcUrl: url(env, "CHAIN_RPC_URL"),
      contract: optional(env, "ANCHOR_CONTRACT"),
      trustedContracts: addresses(env, "TRUSTED_CONTRACTS"),
      chainId: env.CHAIN_ID ? int(env, "CHAIN_ID", 0, 1, Number.MAX_SAFE_INTEGER) : undefined,
      localPort: int(env, "LOCAL_CHAIN_PORT", 8545, 1, 65_535),
      localBlockTime: int(env, "LOCAL_CHAIN_BLOCK_TIME", 0, 0, 60),
      localIsolation: oneOf(env, "LOCAL_CHAIN_ISOLATION", ["auto", "network-namespace", "loopback"] as const, "auto"),
      confirmations: int(env, "CONFIRMATIONS", 1, 1, 1000),
      gasPrice: env.GAS_PRICE ? BigInt(int(env, "GAS_PRICE", 0, 0, Number.MAX_SAFE_INTEGER)) : undefined,
      legacyTransactions: bool(env, "LEGACY_TRANSACTIONS", false),
      receiptTimeoutMs: int(env, "RECEIPT_TIMEOUT_MS", 120_000, 1_000, 86_400_000),
      names: chainNames(env.CHAIN_NAMES),
      reconcileIntervalMs: int(env, "RECONCILE_INTERVAL_MS", 60_000, 1_000, 86_400_000),
      leaseMs: int(env, "ANCHOR_LEASE_MS", 10_000, 1_000, 600_000),
    },
    issuer: {
      keystorePath: optional(env, "ISSUER_KEYSTORE"),
      keystorePassword: env.ISSUER_KEYSTORE_PASSWORD,
      previousKeystores: list(env.ISSUER_PREVIOUS_KEYSTORES ?? ""),
      previousKeystoresPassword: env.ISSUER_PREVIOUS_KEYSTORES_PASSWORD ?? env.ISSUER_KEYSTORE_PASSWORD,
      name: env.ISSUER_NAME ?? "Evidence Anchor",
      certificateVersion: int(env, "CERTIFICATE_VERSION", 2, 1, 2) as 1 | 2,
    },
    batch: {
      maxItems: int(env, "BATCH_MAX_ITEMS", 10_000, 1, 1_000_000),
      maxWaitMs: int(env, "BATCH_MAX_WAIT_MS", 5_000, 10, 86_400_000),
      quietMs: int(env, "BATCH_QUIET_MS", 200, 0, 86_400_000),
      quietMinItems: int(env, "BATCH_QUIET_MIN_ITEMS", 1_000, 1, 1_000_000),
    },
    limits: {
      fileSizeBytes,
      filesPerRequest: int(env, "MAX_FILES_PER_REQUEST", 100, 1, 10_000),
      submissionsPerMinute: int(env, "RATE_LIMIT_PER_MINUTE", 600_000, 1, 100_000_000),
      anonymousPerMinute: int(env, "ANONYMOUS_RATE_LIMIT_PER_MINUTE", 6_000, 1, 100_000_000),
      connectionsPerAddress: int(env, "MAX_CONNECTIONS_PER_ADDRESS", 256, 1, 1_000_000),
      connections: int(env, "MAX_CONNECTIONS", defaultMaxConnections(), 1, 1_000_000),
      rpcBodyTimeoutMs: int(env, "RPC_BODY_TIMEOUT_MS", 10_000, 100, 600_000),
      verifyBufferBytes: bufferBytes,
      // At least one request's worth too (half of the whole by default); more than the whole is the whole.
      verifyBufferBytesPerAddress: int(
        env,
        "VERIFY_BUFFER_BYTES_PER_ADDRESS",
        Math.max(2 * MAX_DOCUMENT_BYTES, Math.floor(bufferBytes / 2)),
        2 * MAX_DOCUMENT_BYTES,
        Number.MAX_SAFE_INTEGER,
      ),
      verifySpoolBytes: spoolBytes,
      documentsPerAddress: int(env, "DOCUMENTS_PER_ADDRESS", 4, 1, 16),
      verifySpoolBytesPerAddress: int(
        env,
        "VERIFY_SPOOL_BYTES_PER_ADDRESS",
        Math.min(spoolBytes, Math.max(Math.floor(spoolBytes / 2), fileSizeBytes)),
        0,
        Number.MAX_SAFE_INTEGER,
      ),
    },
    timestamps: {
      urls: env.TSA_URLS === undefined ? undefined : list(env.TSA_URLS).map((u) => checkUrl("TSA_URLS", u)),
      trustFile: optional(env, "TSA_TRUST_CERTS"),
      required: bool(env, "TSA_REQUIRED", false),
      timeoutMs: int(env, "TSA_TIMEOUT_MS", 10_000, 100, 600_000),
      checkpointIntervalMs: int(env, "CHECKPOINT_INTERVAL", 3_600, 0, 86_400 * 30) * 1000,
    },
    capture: {
      allow: list(env.CAPTURE_ALLOW ?? ""),
      concurrency: int(env, "CAPTURE_CONCURRENCY", 2, 1, 64),
      queueLimit: int(env, "CAPTURE_QUEUE", 20, 0, 10_000),
      timeoutMs: int(env, "CAPTURE_TIMEOUT_MS", 60_000, 1_000, 600_000),
      chromiumPath: env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    },
    devAccount: bool(env, "DEV_ACCOUNT", embedded),
    healthToken: optional(env, "HEALTH_TOKEN"),
    log: { level: env.LOG_LEVEL ?? "info", format: logFormat(env.LOG_FORMAT) },
  };
}

function optional(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw === "" ? undefined : raw;
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function bool(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (["1", "true", "yes"].includes(raw)) return true;
  if (["0", "false", "no"].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

function url(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = optional(env, name);
  return raw === undefined ? undefined : checkUrl(name, raw);
}

function checkUrl(name: string, raw: string): string {
  try {
    const parsed = new URL(raw);
    if (parsed.protocol === "http:" || parsed.protocol === "https:") return raw.replace(/\/+$/, "");
  } catch {
    // reported below
  }
  throw new ConfigError(`${name} must be an http or https URL, got "${raw}"`);
}

function addresses(env: NodeJS.ProcessEnv, name: string): string[] {
  const all = list(env[name] ?? "");
  const bad = all.find((a) => !/^0x[0-9a-fA-F]{40}$/.test(a));
  if (bad !== undefined)
    throw new ConfigError(`${name} must be contract addresses (0x and 40 hex digits), comma-separated, got "${bad}"`);
  return all;
}

function list(raw: string): string[] {
  return raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function oneOf<T extends string>(env: NodeJS.ProcessEnv, name: string, values: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if ((values as readonly string[]).includes(raw)) return raw as T;
  throw new ConfigError(`${name} must be one of ${values.join(", ")}, got "${raw}"`);
}

function logFormat(raw: string | undefined): LogFormat | undefined {
  if (raw === undefined || raw === "") return undefined;
  if (raw === "json" || raw === "text") return raw;
  throw new ConfigError(`LOG_FORMAT must be json or text, got "${raw}"`);
}

/** `CHAIN_NAMES="31337=Local development chain,1001=Beijing IP consortium"`. */
function chainNames(raw: string | undefined): Record<number, string> {
  const names: Record<number, string> = {};
  for (const entry of list(raw ?? "")) {
    const match = /^(\d+)=(.+)$/.exec(entry);
    if (!match) throw new ConfigError(`CHAIN_NAMES must be a list of id=name, got "${entry}"`);
    names[Number(match[1])] = match[2]!.trim();
  }
  return names;
}

/**
 * Half the descriptors the process may open (its soft RLIMIT_NOFILE, which node raises to the
 * hard limit at start; Linux's /proc/self/limits), at most 8,192: the rest stay for uploads'
 * files, the database, the object store and the chain node. 4,096 where it cannot be read.
 */
export function defaultMaxConnections(): number {
  try {
    const line = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    if (line?.[1] === "unlimited") return 8_192;
    if (line) return Math.max(1, Math.min(8_192, Math.floor(Number(line[1]) / 2)));
  } catch {
    // Not Linux: the fallback below.
  }
  return 4_096;
}
