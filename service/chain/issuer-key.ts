import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Wallet } from "ethers";
import { makeDirectory } from "../make-directory.ts";

/**
 * The anchoring and issuing key. Production: an encrypted JSON keystore (ISSUER_KEYSTORE
 * with ISSUER_KEYSTORE_PASSWORD). The embedded default: a key made on first start and
 * kept in `<dataDir>/keys/issuer.key` (mode 0600), good only for the local chain.
 */
export async function loadIssuerKey(options: {
  dataDir: string;
  keystorePath: string | undefined;
  keystorePassword: string | undefined;
}): Promise<Wallet> {
  if (options.keystorePath !== undefined) {
    if (options.keystorePassword === undefined) {
      throw new Error("ISSUER_KEYSTORE is set but ISSUER_KEYSTORE_PASSWORD is not");
    }
    const json = readFileSync(options.keystorePath, "utf8");
    const wallet = await Wallet.fromEncryptedJson(json, options.keystorePassword);
    return new Wallet(wallet.privateKey);
  }
  const file = path.join(options.dataDir, "keys", "issuer.key");
  if (existsSync(file)) return new Wallet(readFileSync(file, "utf8").trim());
  makeDirectory(path.dirname(file));
  const wallet = Wallet.createRandom();
  writeFileSync(file, `${wallet.privateKey}\n`, { mode: 0o600, flag: "wx" });
  return new Wallet(wallet.privateKey);
}
