import { Worker } from "node:worker_threads";
import type { Wallet } from "ethers";

/** Signs many messages (EIP-191) in a worker thread, in order. */
export class CertificateSigner {
  readonly address: string;
  readonly #worker: Worker;
  readonly #waiting = new Map<number, { resolve: (s: string[]) => void; reject: (e: Error) => void }>();
  #nextId = 1;

  constructor(wallet: Wallet) {
    this.address = wallet.address;
    this.#worker = new Worker(new URL("./sign-worker.ts", import.meta.url), {
      workerData: { privateKey: wallet.privateKey },
    });
    this.#worker.unref();
    this.#worker.on("message", ({ id, signatures, error }: { id: number; signatures?: string[]; error?: string }) => {
      const waiting = this.#waiting.get(id);
      this.#waiting.delete(id);
      if (error !== undefined || !signatures) waiting?.reject(new Error(`signing failed: ${error}`));
      else waiting?.resolve(signatures);
    });
    this.#worker.on("error", (e) => {
      for (const w of this.#waiting.values()) w.reject(e);
      this.#waiting.clear();
    });
  }

  signMany(messages: Uint8Array[]): Promise<string[]> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#worker.postMessage({ id, messages });
    });
  }

  async close(): Promise<void> {
    await this.#worker.terminate();
  }
}
