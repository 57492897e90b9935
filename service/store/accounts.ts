import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { MAX_ACCOUNT_NAME } from "../core/index.ts";
import type { Account, EvidenceStore } from "./store.ts";

/**
 * An API key: 32 random bytes in base64url, shown once; only its SHA-256 is stored. Drawn
 * again when it would begin with "-" (1 in 64): `--api-key -…` reads as an option.
 */
export function newApiKey(): string {
  for (;;) {
    const key = randomBytes(32).toString("base64url");
    if (!key.startsWith("-")) return key;
  }
}

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

const API_KEY = /^[A-Za-z0-9_-]{43}$/;

/**
 * Creates an account and returns it with its API key, which is not kept anywhere.
 * `beforeStoring` is handed both before anything is stored: when it throws (the key could
 * not be shown), nothing is stored, so no account exists whose key nobody has.
 */
export async function createAccount(
  store: EvidenceStore,
  name: string,
  beforeStoring?: (created: { account: Account; apiKey: string }) => void,
): Promise<{ account: Account; apiKey: string }> {
  const trimmed = name.trim();
  if (trimmed.length === 0 || trimmed.length > MAX_ACCOUNT_NAME) {
    throw new RangeError(`an account name must be 1 to ${MAX_ACCOUNT_NAME} characters`);
  }
  const apiKey = newApiKey();
  const account: Account = {
    id: `acct_${randomBytes(12).toString("base64url")}`,
    name: trimmed,
    keyHash: hashApiKey(apiKey),
    createdAt: new Date().toISOString(),
  };
  beforeStoring?.({ account, apiKey });
  await store.insertAccount(account);
  return { account, apiKey };
}

/**
 * The account an API key belongs to, or undefined. The lookup is by the key's hash, and
 * the stored hash is compared again in constant time, so neither the key nor its hash
 * leaks through timing.
 */
export async function authenticate(store: EvidenceStore, apiKey: string): Promise<Account | undefined> {
  if (!API_KEY.test(apiKey)) return undefined;
  const keyHash = hashApiKey(apiKey);
  const account = await store.accountByKeyHash(keyHash);
  if (!account) return undefined;
  const equal = timingSafeEqual(Buffer.from(account.keyHash, "hex"), Buffer.from(keyHash, "hex"));
  return equal ? account : undefined;
}
