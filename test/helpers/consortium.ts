import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Contract, encryptKeystoreJsonSync, JsonRpcProvider, Wallet } from "ethers";
import { EVIDENCE_ANCHOR_ABI } from "../../service/core/index.ts";
import { deployEvidenceAnchor } from "../../service/chain/deploy.ts";

/** Anvil's first default account (funded on every Anvil node): the consortium admin in tests. */
export const ADMIN_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/** Anvil's second default account: a member service's anchoring key in tests. */
export const SERVICE_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

/**
 * Sets a data directory up as a consortium member's service on an external chain: deploys
 * EvidenceAnchor there with the service key as anchorer, and gives the service that key.
 * Returns the environment `evidence serve` needs. With `granted: false` the key is not made an
 * anchorer: a member whose role the admin has not granted yet.
 */
export async function memberServiceOn(
  chainUrl: string,
  dataDir: string,
  { granted = true }: { granted?: boolean } = {},
): Promise<Record<string, string>> {
  const { contract } = await deployEvidenceAnchor({
    rpcUrl: chainUrl,
    deployer: new Wallet(ADMIN_KEY),
    anchorers: granted ? [new Wallet(SERVICE_KEY).address] : [],
    tx: { gasPrice: undefined, legacy: false },
  });
  mkdirSync(path.join(dataDir, "keys"), { recursive: true });
  writeFileSync(path.join(dataDir, "keys", "issuer.key"), SERVICE_KEY, { mode: 0o600 });
  return { CHAIN_RPC_URL: chainUrl, ANCHOR_CONTRACT: contract, DEV_ACCOUNT: "true" };
}

/**
 * Writes `key` as an encrypted JSON keystore (mode 0600), as ISSUER_KEYSTORE reads it, with a
 * cheap scrypt setting that keeps tests fast (production keystores use the default).
 */
export function writeKeystore(file: string, key: string, password: string): string {
  const wallet = new Wallet(key);
  const json = encryptKeystoreJsonSync({ address: wallet.address, privateKey: wallet.privateKey }, password, {
    scrypt: { N: 1024 },
  });
  writeFileSync(file, json, { mode: 0o600 });
  return file;
}

/** The consortium admin grants `account` ANCHORER_ROLE on `contract`, or (`granted: false`) revokes it. */
export async function setAnchorerRole(
  chainUrl: string,
  contract: string,
  account: string,
  granted: boolean,
): Promise<void> {
  const provider = new JsonRpcProvider(chainUrl);
  try {
    const registry = new Contract(contract, EVIDENCE_ANCHOR_ABI, new Wallet(ADMIN_KEY, provider));
    const role = (await registry.getFunction("ANCHORER_ROLE")()) as string;
    const tx = (await registry.getFunction(granted ? "grantRole" : "revokeRole")(role, account)) as {
      wait(): Promise<unknown>;
    };
    await tx.wait();
  } finally {
    provider.destroy();
  }
}
