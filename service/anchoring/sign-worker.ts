/**
 * Signs certificates off the main thread: secp256k1 signing in JavaScript costs about half
 * a millisecond each, which would stall intake for seconds on a batch of 10,000.
 */
import { parentPort, workerData } from "node:worker_threads";
import { SigningKey } from "ethers";
import { personalMessageDigest } from "../core/index.ts";

const key = new SigningKey((workerData as { privateKey: string }).privateKey);

parentPort!.on("message", ({ id, messages }: { id: number; messages: Uint8Array[] }) => {
  try {
    // EIP-191 personal_sign, exactly what Wallet.signMessage produces.
    const signatures = messages.map((m) => key.sign(personalMessageDigest(m)).serialized.toLowerCase());
    parentPort!.postMessage({ id, signatures });
  } catch (e) {
    parentPort!.postMessage({ id, error: (e as Error).message });
  }
});
