import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { hashMessage, recoverAddress, Signature, Wallet } from "ethers";
import { InProcessSigner, WorkerSigner } from "../../service/anchoring/signers.ts";
import { FAULTY_SIGN_WORKER } from "../helpers/faulty-sign-worker.ts";
import { example } from "../helpers/vectors.ts";

/** secp256k1's order n, and n/2: an EIP-2 signature has s at most n/2. */
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

describe("certificate signers", () => {
  const key = example.issuer().privateKey;
  const address = new Wallet(key).address;
  const messages = [
    new Uint8Array(0),
    new TextEncoder().encode('{"v":1,"record":"侵权页面截图.png"}'),
    ...Array.from({ length: 30 }, (_, i) => new Uint8Array(randomBytes(1 + i * 37))),
  ];
  let worker: WorkerSigner;

  before(() => {
    worker = new WorkerSigner(key);
  });

  after(async () => {
    await worker?.close();
  });

  it("sign in a worker thread exactly as on the calling thread: the same bytes, in the same order", async () => {
    const inProcess = await new InProcessSigner(key).signMessages(messages);
    const inWorker = await worker.signMessages(messages);
    expect(inWorker).to.have.length(messages.length);
    expect(inWorker).to.deep.equal(inProcess);
    expect(worker.address).to.equal(address);
  });

  it("give EIP-191 personal_sign signatures that recover to the key's address, as ethers' Wallet.signMessage does", async () => {
    const wallet = new Wallet(key);
    const signatures = await worker.signMessages(messages);
    for (const [i, message] of messages.entries()) {
      const signature = signatures[i]!;
      expect(recoverAddress(hashMessage(message), signature), `message ${i}`).to.equal(address);
      expect(signature, `message ${i}`).to.equal((await wallet.signMessage(message)).toLowerCase());
      const { s, v } = Signature.from(signature);
      expect(BigInt(s) <= N / 2n, "low s").to.equal(true);
      expect([27, 28]).to.include(v);
    }
  });

  it("fail what a worker that died was asked, and sign the next request in a new worker", async () => {
    const faulty = new WorkerSigner(key, { script: FAULTY_SIGN_WORKER });
    try {
      const expected = await new InProcessSigner(key).signMessages(messages.slice(0, 3));
      expect(await faulty.signMessages(messages.slice(0, 3))).to.deep.equal(expected);
      let error: unknown;
      await faulty.signMessages([new TextEncoder().encode("exit")]).catch((e: unknown) => (error = e));
      expect((error as Error)?.message).to.match(/the signing worker stopped \(exit code 3\)/);
      expect(await faulty.signMessages(messages.slice(0, 3)), "in a new worker").to.deep.equal(expected);
    } finally {
      await faulty.close();
    }
  });

  it("keep the answers of concurrent requests to the worker apart", async () => {
    const batches = Array.from({ length: 8 }, (_, b) => messages.slice(b, b + 5));
    const answers = await Promise.all(batches.map((batch) => worker.signMessages(batch)));
    const expected = await Promise.all(batches.map((batch) => new InProcessSigner(key).signMessages(batch)));
    expect(answers).to.deep.equal(expected);
  });

  it("sign with their own key only: another key's worker signs so that it recovers to that key", async () => {
    const other = Wallet.createRandom();
    const otherWorker = new WorkerSigner(other.privateKey);
    try {
      const [signature] = await otherWorker.signMessages([messages[1]!]);
      expect(recoverAddress(hashMessage(messages[1]!), signature!)).to.equal(other.address);
      expect(signature).not.to.equal((await worker.signMessages([messages[1]!]))[0]);
    } finally {
      await otherWorker.close();
    }
  });
});
