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
 * batch of 10,000. A worker that dies (its memory exhausted, an error it could not catch)
 * fails what it was asked and is replaced at the next request: a dead worker would
 * otherwise leave every later batch waiting for ever for its certificates.
 */
export class WorkerSigner implements CertificateSigner {
  readonly address: string;
  readonly #privateKey: string;
  readonly #script: URL;
  #worker: Worker | undefined;
  #closed = false;
  readonly #waiting = new Map<number, { resolve: (s: string[]) => void; reject: (e: Error) => void }>();
  #nextId = 1;

  /** `script` is the worker's module (tests give one that fails on purpose). */
  constructor(privateKey: string, options: { script?: URL } = {}) {
    this.address = signerAddress(new SigningKey(privateKey));
    this.#privateKey = privateKey;
    this.#script = options.script ?? new URL("./sign-worker.ts", import.meta.url);
    this.#worker = this.#start();
  }

  #start(): Worker {
    const worker = new Worker(this.#script, { workerData: { privateKey: this.#privateKey } });
    worker.unref();
    worker.on("message", ({ id, signatures, error }: { id: number; signatures?: string[]; error?: string }) => {
      const waiting = this.#waiting.get(id);
      this.#waiting.delete(id);
      if (error !== undefined || !signatures) waiting?.reject(new Error(`signing failed: ${error}`));
      else waiting?.resolve(signatures);
    });
    const gone = (why: Error) => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      for (const w of this.#waiting.values()) w.reject(why);
      this.#waiting.clear();
    };
    worker.on("error", (e) => gone(e));
    worker.on("exit", (code) => gone(new Error(`the signing worker stopped (exit code ${code})`)));
    return worker;
  }

  signMessages(messages: readonly Uint8Array[]): Promise<string[]> {
    if (this.#closed) return Promise.reject(new Error("the signer is closed"));
    const worker = (this.#worker ??= this.#start());
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      worker.postMessage({ id, messages });
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    this.#worker = undefined;
    await worker?.terminate();
  }
}

function signerAddress(key: SigningKey): string {
  return new Wallet(key).address;
}
