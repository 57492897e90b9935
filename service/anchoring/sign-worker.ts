/** The worker thread of WorkerSigner: signs batches of messages under one key. */
import { parentPort, workerData } from "node:worker_threads";
import { SigningKey } from "ethers";
import { signPersonalMessages } from "./signers.ts";

const key = new SigningKey((workerData as { privateKey: string }).privateKey);

parentPort!.on("message", ({ id, messages }: { id: number; messages: Uint8Array[] }) => {
  try {
    parentPort!.postMessage({ id, signatures: signPersonalMessages(key, messages) });
  } catch (e) {
    parentPort!.postMessage({ id, error: (e as Error).message });
  }
});
