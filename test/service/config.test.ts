import { readFileSync } from "node:fs";
import { expect } from "chai";
import path from "node:path";
import { ConfigError, loadConfig } from "../../service/config.ts";

describe("the service's configuration (environment variables)", () => {
  it("runs on the embedded defaults with an empty environment", () => {
    const config = loadConfig({});
    expect(config).to.deep.include({ dataDir: path.resolve("data"), host: "127.0.0.1", port: 8080, devAccount: true });
    expect(config.chain).to.deep.include({ rpcUrl: undefined, chainId: undefined, gasPrice: undefined });
    expect(config.batch).to.deep.equal({ maxItems: 10_000, maxWaitMs: 5_000, quietMs: 200, quietMinItems: 1_000 });
    expect(config.chain).to.deep.include({ receiptTimeoutMs: 120_000, leaseMs: 10_000 });
    expect(config.limits.rpcBodyTimeoutMs, "the /rpc body deadline").to.equal(10_000);
  });

  it("reads when a batch is sealed from BATCH_MAX_ITEMS, BATCH_MAX_WAIT_MS, BATCH_QUIET_MS and BATCH_QUIET_MIN_ITEMS; BATCH_QUIET_MS=0 turns quiet sealing off", () => {
    const env = { BATCH_MAX_ITEMS: "500", BATCH_MAX_WAIT_MS: "2000", BATCH_QUIET_MS: "0", BATCH_QUIET_MIN_ITEMS: "50" };
    expect(loadConfig(env).batch).to.deep.equal({ maxItems: 500, maxWaitMs: 2_000, quietMs: 0, quietMinItems: 50 });
    expect(() => loadConfig({ BATCH_QUIET_MIN_ITEMS: "0" })).to.throw(ConfigError, /BATCH_QUIET_MIN_ITEMS/);
    expect(() => loadConfig({ BATCH_QUIET_MS: "-1" })).to.throw(ConfigError, /BATCH_QUIET_MS/);
  });

  it("reads the /rpc body deadline from RPC_BODY_TIMEOUT_MS", () => {
    expect(loadConfig({ RPC_BODY_TIMEOUT_MS: "1000" }).limits.rpcBodyTimeoutMs).to.equal(1_000);
  });

  it("holds one client address to half of the verify memory budget, and never less than one request's worth, unless VERIFY_BUFFER_BYTES_PER_ADDRESS says otherwise", () => {
    expect(loadConfig({}).limits.verifyBufferBytesPerAddress).to.equal(128 * 1024 * 1024);
    expect(loadConfig({ VERIFY_BUFFER_BYTES: String(1024 ** 3) }).limits.verifyBufferBytesPerAddress).to.equal(
      512 * 1024 * 1024,
    );
    expect(
      loadConfig({ VERIFY_BUFFER_BYTES: String(200 * 1024 * 1024) }).limits.verifyBufferBytesPerAddress,
      "a capture package as the certificate and another as the file",
    ).to.equal(128 * 1024 * 1024);
    const limits = loadConfig({ VERIFY_BUFFER_BYTES_PER_ADDRESS: String(256 * 1024 * 1024) }).limits;
    expect(limits.verifyBufferBytesPerAddress, "all of it, behind a load balancer").to.equal(limits.verifyBufferBytes);
  });

  it("holds one client address to half of the verify spool, with room for one package of MAX_FILE_BYTES, unless VERIFY_SPOOL_BYTES_PER_ADDRESS says otherwise", () => {
    expect(loadConfig({}).limits.verifySpoolBytesPerAddress).to.equal(2 * 1024 ** 3);
    expect(loadConfig({ VERIFY_SPOOL_BYTES: String(8 * 1024 ** 3) }).limits.verifySpoolBytesPerAddress).to.equal(
      4 * 1024 ** 3,
    );
    expect(
      loadConfig({ VERIFY_SPOOL_BYTES: String(3 * 1024 ** 3) }).limits.verifySpoolBytesPerAddress,
      "room for one package of MAX_FILE_BYTES (2 GiB)",
    ).to.equal(2 * 1024 ** 3);
    expect(
      loadConfig({ VERIFY_SPOOL_BYTES: String(1024 ** 3) }).limits.verifySpoolBytesPerAddress,
      "never more than the spool",
    ).to.equal(1024 ** 3);
    const limits = loadConfig({ VERIFY_SPOOL_BYTES_PER_ADDRESS: String(4 * 1024 ** 3) }).limits;
    expect(limits.verifySpoolBytesPerAddress, "all of it, behind a load balancer").to.equal(limits.verifySpoolBytes);
  });

  it("holds one client address to 4 of the 16 certificate documents unless DOCUMENTS_PER_ADDRESS says otherwise", () => {
    expect(loadConfig({}).limits.documentsPerAddress).to.equal(4);
    expect(loadConfig({ DOCUMENTS_PER_ADDRESS: "16" }).limits.documentsPerAddress).to.equal(16);
    expect(() => loadConfig({ DOCUMENTS_PER_ADDRESS: "17" })).to.throw(ConfigError, /DOCUMENTS_PER_ADDRESS/);
  });

  it("reads the anchoring lease's length from ANCHOR_LEASE_MS", () => {
    expect(loadConfig({ ANCHOR_LEASE_MS: "3000" }).chain.leaseMs).to.equal(3_000);
  });

  it("caps open connections at MAX_CONNECTIONS, by default half the descriptors the process may open, at most 8,192", () => {
    const soft = /^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"))![1]!;
    expect(loadConfig({}).limits.connections).to.equal(Math.min(8_192, Math.floor(Number(soft) / 2)));
    expect(loadConfig({ MAX_CONNECTIONS: "300" }).limits.connections).to.equal(300);
    expect(() => loadConfig({ MAX_CONNECTIONS: "0" })).to.throw(ConfigError, /MAX_CONNECTIONS/);
  });

  it("reads the earlier registries trusted beside the service's own from TRUSTED_CONTRACTS, and refuses what is no address", () => {
    expect(loadConfig({}).chain.trustedContracts).to.deep.equal([]);
    const a = `0x${"a".repeat(40)}`;
    const b = `0x${"B".repeat(40)}`;
    expect(loadConfig({ TRUSTED_CONTRACTS: ` ${a}, ${b} ` }).chain.trustedContracts).to.deep.equal([a, b]);
    expect(() => loadConfig({ TRUSTED_CONTRACTS: `${a},0x1234` })).to.throw(ConfigError, /TRUSTED_CONTRACTS.*"0x1234"/);
  });

  it("reads an external chain: its URL, contract, id and zero gas price; no development account", () => {
    const config = loadConfig({
      CHAIN_RPC_URL: "http://127.0.0.1:8545",
      ANCHOR_CONTRACT: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
      CHAIN_ID: "2026",
      GAS_PRICE: "0",
    });
    expect(config.chain).to.deep.include({ chainId: 2026, gasPrice: 0n });
    expect(config.devAccount).to.equal(false);
  });

  for (const [name, value] of [
    ["PORT", "70000"],
    ["CHAIN_ID", "0"],
    ["CHAIN_ID", "mainnet"],
    ["GAS_PRICE", "-1"],
    ["GAS_PRICE", "0.5"],
    ["BATCH_MAX_ITEMS", "0"],
    ["DEV_ACCOUNT", "maybe"],
    ["ANCHOR_LEASE_MS", "500"],
    ["RPC_BODY_TIMEOUT_MS", "50"],
    // Less than one request's worth: a capture package as the certificate and another as the file.
    ["VERIFY_BUFFER_BYTES", String(64 * 1024 * 1024)],
    ["VERIFY_BUFFER_BYTES_PER_ADDRESS", String(64 * 1024 * 1024)],
  ] as const) {
    it(`refuses ${name}=${value} with a message naming it`, () => {
      expect(() => loadConfig({ [name]: value }))
        .to.throw(ConfigError)
        .with.property("message")
        .that.includes(name);
    });
  }
});
