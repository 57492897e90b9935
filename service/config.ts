import path from "node:path";

/** Everything the service reads from its environment, with the embedded defaults. */
export interface ServiceConfig {
  dataDir: string;
  host: string;
  port: number;
  /** The URL printed for users; derived from host and port unless PUBLIC_URL is set. */
  publicUrl: string | undefined;
  chain: {
    /** An external chain; when absent a local chain is started under the data directory. */
    rpcUrl: string | undefined;
    /** The EvidenceAnchor address on an external chain. */
    contract: string | undefined;
    /** The external chain's id, if known in advance: checked against the node, and lets a first start go on while the node is down. */
    chainId: number | undefined;
    localPort: number;
    /** Seconds between blocks of the local chain (interval mining, like a consortium chain). */
    localBlockTime: number;
    confirmations: number;
    /** Gas price in wei for legacy transactions; 0 on zero-gas consortium chains. */
    gasPrice: bigint | undefined;
    /** Send type-0 (pre-EIP-1559) transactions. */
    legacyTransactions: boolean;
    /** How long to wait for a receipt before the transaction is sent again (the contract refuses a duplicate). */
    receiptTimeoutMs: number;
  };
  issuer: {
    /** Encrypted JSON keystore of the anchoring and issuing key (production). */
    keystorePath: string | undefined;
    keystorePassword: string | undefined;
    name: string;
  };
  batch: { maxItems: number; maxWaitMs: number };
  limits: {
    fileSizeBytes: number;
    filesPerRequest: number;
    digestsPerRequest: number;
    /** Submissions per API key per minute. */
    requestsPerMinute: number;
  };
  /** Create a development account and print its key on first start. */
  devAccount: boolean;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  const host = env.HOST ?? "127.0.0.1";
  const port = int(env, "PORT", 8080, 0, 65_535);
  return {
    dataDir: path.resolve(env.DATA_DIR ?? "data"),
    host,
    port,
    publicUrl: env.PUBLIC_URL,
    chain: {
      rpcUrl: env.CHAIN_RPC_URL,
      contract: env.ANCHOR_CONTRACT,
      chainId: env.CHAIN_ID ? int(env, "CHAIN_ID", 0, 1, Number.MAX_SAFE_INTEGER) : undefined,
      localPort: int(env, "LOCAL_CHAIN_PORT", 8545, 1, 65_535),
      localBlockTime: int(env, "LOCAL_CHAIN_BLOCK_TIME", 1, 0, 60),
      confirmations: int(env, "CONFIRMATIONS", 1, 1, 1000),
      gasPrice: env.GAS_PRICE ? BigInt(int(env, "GAS_PRICE", 0, 0, Number.MAX_SAFE_INTEGER)) : undefined,
      legacyTransactions: bool(env, "LEGACY_TRANSACTIONS", false),
      receiptTimeoutMs: int(env, "RECEIPT_TIMEOUT_MS", 120_000, 1_000, 86_400_000),
    },
    issuer: {
      keystorePath: env.ISSUER_KEYSTORE,
      keystorePassword: env.ISSUER_KEYSTORE_PASSWORD,
      name: env.ISSUER_NAME ?? "Evidence Anchor",
    },
    batch: {
      maxItems: int(env, "BATCH_MAX_ITEMS", 10_000, 1, 1_000_000),
      maxWaitMs: int(env, "BATCH_MAX_WAIT_MS", 5_000, 10, 86_400_000),
    },
    limits: {
      fileSizeBytes: int(env, "MAX_FILE_BYTES", 2 * 1024 ** 3, 1, Number.MAX_SAFE_INTEGER),
      filesPerRequest: int(env, "MAX_FILES_PER_REQUEST", 100, 1, 10_000),
      digestsPerRequest: 10_000,
      requestsPerMinute: int(env, "RATE_LIMIT_PER_MINUTE", 600, 1, 1_000_000),
    },
    devAccount: bool(env, "DEV_ACCOUNT", env.CHAIN_RPC_URL === undefined),
  };
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
