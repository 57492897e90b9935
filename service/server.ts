import type { Server } from "node:http";
import path from "node:path";
import { once } from "node:events";
import { Wallet } from "ethers";
import { CachingAnchorReader, JsonRpcAnchorReader } from "./core/index.ts";
import { createAccount } from "./accounts.ts";
import { Anchorer } from "./anchoring/anchorer.ts";
import { CertificateSigner } from "./anchoring/certificate-signer.ts";
import { AnchorClient, type TxOptions } from "./chain/anchor-client.ts";
import { loadIssuerKey } from "./chain/issuer-key.ts";
import { startLocalChain, type LocalChain } from "./chain/local-chain.ts";
import type { ServiceConfig } from "./config.ts";
import { createApp } from "./http/app.ts";
import { ObjectStore } from "./intake/object-store.ts";
import { EvidenceStore } from "./store/evidence-store.ts";
import { webRoutes } from "./http/web-routes.ts";

export interface RunningService {
  url: string;
  chainUrl: string;
  chainId: number;
  contract: string;
  issuer: string;
  /** The development account's API key, on the start that created it. */
  devApiKey: string | undefined;
  store: EvidenceStore;
  anchorer: Anchorer;
  /** Stops intake, finishes the anchoring round in progress, closes the store; the local chain is stopped too. */
  stop(options?: { keepChain?: boolean }): Promise<void>;
}

/** Starts the whole service from its configuration: store, chain, anchoring, HTTP. */
export async function startService(
  config: ServiceConfig,
  log: (message: string) => void = console.log,
): Promise<RunningService> {
  const store = new EvidenceStore(path.join(config.dataDir, "evidence.db"));
  const objects = new ObjectStore(config.dataDir);
  const removed = objects.cleanTemporaryFiles();
  if (removed > 0) log(`removed ${removed} temporary files left by an interrupted upload`);

  const issuer = await loadIssuerKey({ dataDir: config.dataDir, ...config.issuer });
  const tx: TxOptions = { gasPrice: config.chain.gasPrice, legacy: config.chain.legacyTransactions };

  let localChain: LocalChain | undefined;
  let chainUrl: string;
  let chainId: number;
  let contract: string;
  if (config.chain.rpcUrl === undefined) {
    localChain = await startLocalChain({
      dataDir: config.dataDir,
      port: config.chain.localPort,
      blockTime: config.chain.localBlockTime,
    });
    chainUrl = localChain.url;
    chainId = localChain.chainId;
    contract = await ensureLocalContract(store, chainUrl, chainId, issuer, tx, log);
  } else {
    chainUrl = config.chain.rpcUrl;
    if (config.chain.contract === undefined) throw new Error("CHAIN_RPC_URL is set but ANCHOR_CONTRACT is not");
    contract = config.chain.contract;
    chainId = await chainIdOf(store, chainUrl, config.chain.chainId, log);
  }

  const client = new AnchorClient(chainUrl, chainId, issuer, contract, tx);
  const signer = new CertificateSigner(issuer);
  const anchorer = new Anchorer(
    store,
    client,
    signer,
    {
      maxItems: config.batch.maxItems,
      maxWaitMs: config.batch.maxWaitMs,
      confirmations: config.chain.confirmations,
      receiptTimeoutMs: config.chain.receiptTimeoutMs,
      chainId,
      issuerName: config.issuer.name,
    },
    log,
  );

  let devApiKey: string | undefined;
  if (config.devAccount && store.countAccounts() === 0) {
    devApiKey = createAccount(store, "development").apiKey;
  }

  const chain = new CachingAnchorReader(new JsonRpcAnchorReader(chainUrl, { timeoutMs: 5_000 }));
  const app = createApp({
    store,
    objects,
    chain,
    chainUrl,
    chainId,
    contract,
    limits: config.limits,
    anchoring: () => anchorer.health,
    onIntake: () => anchorer.notify(),
    log,
    web: await webRoutes(),
  });
  const server: Server = app.listen(config.port, config.host);
  await once(server, "listening");
  // Uploads of large files may take long; a slow client is not cut off mid-file.
  server.requestTimeout = 0;
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  const url = config.publicUrl ?? `http://${config.host}:${port}`;
  anchorer.start();

  return {
    url,
    chainUrl,
    chainId,
    contract,
    issuer: issuer.address,
    devApiKey,
    store,
    anchorer,
    async stop(options = {}) {
      server.close();
      server.closeAllConnections();
      await anchorer.stop();
      await signer.close();
      client.destroy();
      store.close();
      if (localChain && !options.keepChain) await localChain.stop();
    },
  };
}

/** Deploys EvidenceAnchor on the local chain at first start, and reuses it after. */
async function ensureLocalContract(
  store: EvidenceStore,
  url: string,
  chainId: number,
  issuer: Wallet,
  tx: TxOptions,
  log: (message: string) => void,
): Promise<string> {
  const known = store.getMeta("contract");
  const reader = new JsonRpcAnchorReader(url);
  if (known !== undefined) {
    const code = await reader.request("eth_getCode", [known, "latest"]);
    if (code !== "0x") return known;
    throw new Error(
      `the local chain has lost contract ${known}; the chain state under ${url} is not the one certificates were issued on`,
    );
  }
  // Fund the issuer on the development chain (Anvil's cheat method), then deploy.
  await reader.request("anvil_setBalance", [issuer.address, "0x3635C9ADC5DEA00000"]);
  const address = await AnchorClient.deploy(url, chainId, issuer, issuer.address, tx);
  const client = new AnchorClient(url, chainId, issuer, address, tx);
  await client.grantAnchorerRole(issuer.address);
  client.destroy();
  store.setMeta("contract", address);
  store.setMeta("chainId", String(chainId));
  log(`deployed EvidenceAnchor at ${address} on the local chain ${chainId}`);
  return address;
}

/**
 * The chain id of an external chain, checked against what this data directory was used
 * with (and against CHAIN_ID, if set). Remembered from the first start, so intake works
 * while the chain is down; with CHAIN_ID set, even a first start does.
 */
async function chainIdOf(
  store: EvidenceStore,
  url: string,
  configured: number | undefined,
  log: (message: string) => void,
): Promise<number> {
  const stored = store.getMeta("chainId");
  const known = stored === undefined ? undefined : Number(stored);
  if (known !== undefined && configured !== undefined && known !== configured) {
    throw new Error(`CHAIN_ID is ${configured}, but this data directory belongs to chain ${known}`);
  }
  const expected = known ?? configured;
  let id: number;
  try {
    id = await new JsonRpcAnchorReader(url).chainId();
  } catch (e) {
    if (expected === undefined) {
      throw new Error(`the chain at ${url} is not reachable, and its id is not known yet (set CHAIN_ID)`, {
        cause: e,
      });
    }
    log(`the chain at ${url} is not reachable now; anchoring will resume when it is`);
    return expected;
  }
  if (expected !== undefined && id !== expected) {
    throw new Error(
      `the chain at ${url} has id ${id}, but ${known !== undefined ? "this data directory belongs to" : "CHAIN_ID is"} chain ${expected}`,
    );
  }
  store.setMeta("chainId", String(id));
  return id;
}
