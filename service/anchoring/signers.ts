import { Worker } from "node:worker_threads";
import { SigningKey, Wallet } from "ethers";
import { personalMessageDigest, type CertificateSigner } from "../core/index.ts";

/** EIP-191 `personal_sign` of each message, exactly what ethers' Wallet.signMessage produces. */
export function signPersonalMessages(key: SigningKey, messages: readonly Uint8Array[]): string[] {
  return messages.map((m) => key.sign(personalMessageDigest(m)).serialized.toLowerCase());
}

/** Signs on the calling thread: for a batch statement (one signature per batch) this is all it takes. */
export class InProcessSigner implements CertificateSigner {
  readonly address: string;
  readonly #key: SigningKey;

  constructor(privateKey: string) {
    this.#key = new SigningKey(privateKey);
    this.address = signerAddress(this.#key);
  }

  async signMessages(messages: readonly Uint8Array[]): Promise<string[]> {
    return signPersonalMessages(this.#key, messages);
  }

  async close(): Promise<void> {}
}

/**
 * Signs in a worker thread: secp256k1 in JavaScript costs about 0.3 ms a signature, which
 * for version 1 certificates (one signature each) would stall intake for seconds on a
 * batch of 10,000.
 */
export class WorkerSigner implements CertificateSigner {
  readonly address: string;
  readonly #worker: Worker;
  readonly #waiting = new Map<number, { resolve: (s: string[]) => void; reject: (e: Error) => void }>();
  #nextId = 1;

  constructor(privateKey: string) {
    this.address = signerAddress(new SigningKey(privateKey));
    this.#worker = new Worker(new URL("./sign-worker.ts", import.meta.url), { workerData: { privateKey } });
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

  signMessages(messages: readonly Uint8Array[]): Promise<string[]> {
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

function signerAddress(key: SigningKey): string {
  return new Wallet(key).address;
}
