import { expect } from "chai";
import {
  ChainUnavailableError,
  OutageReader,
  type ChainFailure,
  type ChainReader,
} from "../../service/core/chain-reader.ts";

/** A reader whose every read fails with `failure`, counting the reads that reach it. */
function failingReader(failure: ChainFailure): ChainReader & { reads: number } {
  const reader = {
    reads: 0,
    fail(): Promise<never> {
      reader.reads++;
      return Promise.reject(new ChainUnavailableError(failure, "the node", `the node failed: ${failure}`));
    },
    chainId: () => reader.fail(),
    blockNumber: () => reader.fail(),
    hasCode: () => reader.fail(),
    anchorOf: () => reader.fail(),
    block: () => reader.fail(),
    receipt: () => reader.fail(),
  };
  return reader;
}

describe("OutageReader: one request stops asking a node that has failed to answer (core/chain-reader.ts)", () => {
  for (const failure of ["timeout", "unreachable"] as const) {
    it(`after one read fails (${failure}), every later read fails at once with that error, the node not asked`, async () => {
      const node = failingReader(failure);
      const reader = new OutageReader().over(node);
      const first = await reader.chainId().catch((e: unknown) => e);
      expect(first).to.be.instanceOf(ChainUnavailableError);
      for (const read of [() => reader.blockNumber(), () => reader.block(7), () => reader.chainId()]) {
        expect(await read().catch((e: unknown) => e)).to.equal(first);
      }
      expect(node.reads).to.equal(1);
    });
  }

  it("keeps asking after an answer it could not use (bad answer, RPC error): the node is up", async () => {
    for (const failure of ["bad-answer", "rpc-error", "not-json-rpc"] as const) {
      const node = failingReader(failure);
      const reader = new OutageReader().over(node);
      await reader.chainId().catch(() => undefined);
      await reader.blockNumber().catch(() => undefined);
      expect(node.reads, failure).to.equal(2);
    }
  });

  it("keeps a reader's blockNumberAtLeast, and gives none to a reader without it", async () => {
    const asked: number[] = [];
    const node = {
      ...failingReader("timeout"),
      blockNumberAtLeast: async (n: number) => (asked.push(n), 40),
    };
    const reader = new OutageReader().over(node);
    expect(await reader.blockNumberAtLeast?.(12)).to.equal(40);
    expect(asked).to.deep.equal([12]);
    expect(new OutageReader().over(failingReader("timeout")).blockNumberAtLeast).to.equal(undefined);
  });

  it("passes answers through unchanged", async () => {
    const node = { ...failingReader("timeout"), chainId: async () => 31337, blockNumber: async () => 12 };
    const reader = new OutageReader().over(node);
    expect([await reader.chainId(), await reader.blockNumber()]).to.deep.equal([31337, 12]);
  });
});
