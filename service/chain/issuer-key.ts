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
    return fromKeystore(options.keystorePath, options.keystorePassword, "ISSUER_KEYSTORE");
  }
  const file = path.join(options.dataDir, "keys", "issuer.key");
  if (existsSync(file)) return new Wallet(readFileSync(file, "utf8").trim());
  makeDirectory(path.dirname(file));
  const wallet = Wallet.createRandom();
  writeFileSync(file, `${wallet.privateKey}\n`, { mode: 0o600, flag: "wx" });
  return new Wallet(wallet.privateKey);
}

/**
 * The keys this service issued under before a rotation (ISSUER_PREVIOUS_KEYSTORES), each
 * once: each certifies only batches it anchored itself. The current key is refused there.
 */
export async function loadPreviousIssuerKeys(
  options: { previousKeystores: string[]; previousKeystoresPassword: string | undefined },
  current: string,
): Promise<Wallet[]> {
  if (options.previousKeystores.length === 0) return [];
  if (options.previousKeystoresPassword === undefined) {
    throw new Error(
      "ISSUER_PREVIOUS_KEYSTORES is set but neither ISSUER_PREVIOUS_KEYSTORES_PASSWORD nor ISSUER_KEYSTORE_PASSWORD is",
    );
  }
  const keys: Wallet[] = [];
  for (const file of options.previousKeystores) {
    const wallet = await fromKeystore(file, options.previousKeystoresPassword, "ISSUER_PREVIOUS_KEYSTORES");
    // The current key given as an earlier one is a mix-up that would leave the earlier key's
    // batches uncertified, found only later: said now.
    if (wallet.address.toLowerCase() === current.toLowerCase()) {
      throw new Error(`ISSUER_PREVIOUS_KEYSTORES: ${file} holds the current issuer key ${current}, not an earlier one`);
    }
    if (!keys.some((k) => k.address === wallet.address)) keys.push(wallet);
  }
  return keys;
}

async function fromKeystore(file: string, password: string, setting: string): Promise<Wallet> {
  let json: string;
  try {
    json = readFileSync(file, "utf8");
  } catch (e) {
    throw new Error(`${setting}: cannot read ${file}: ${(e as Error).message}`);
  }
  try {
    const wallet = await Wallet.fromEncryptedJson(json, password);
    return new Wallet(wallet.privateKey);
  } catch (e) {
    throw new Error(`${setting}: cannot decrypt ${file}: ${(e as Error).message}`);
  }
}
