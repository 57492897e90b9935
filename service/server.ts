import type { Wallet } from "ethers";
import { createServer, type RequestListener, type Server } from "node:http";
import { readFileSync } from "node:fs";
import path from "node:path";
import { once } from "node:events";
import {
  CachingChainReader,
  DEVELOPMENT_CHAIN_IDS,
  JsonRpcChainReader,
  SERVICE_NODE_LABEL,
  verifyEvidence,
} from "./core/index.ts";
import { Anchorer } from "./anchoring/anchorer.ts";
import { anchoringLease } from "./anchoring/lease.ts";
import { Reconciler } from "./anchoring/reconciler.ts";
import { InProcessSigner, WorkerSigner } from "./anchoring/signers.ts";
import { ensureLocalContract, resolveChainId } from "./chain/bootstrap.ts";
import { ChainClient, type TxOptions } from "./chain/chain-client.ts";
import { loadIssuerKey, loadPreviousIssuerKeys } from "./chain/issuer-key.ts";
import { startLocalChain, type LocalChain, type LocalChainStatus } from "./chain/local-chain.ts";
import { ConfigError, type ServiceConfig } from "./config.ts";
import { lockDataDir } from "./data-dir-lock.ts";
import { health, publicHealthOf, type HealthSources } from "./health.ts";
import { createApp, type AppDependencies } from "./http/app.ts";
import { limitConnectionsPerAddress } from "./http/connection-limits.ts";
import { AddressPolicy } from "./capture/address-policy.ts";
import { CaptureService } from "./capture/capture-service.ts";
import { CaptureRunner } from "./capture/runner.ts";
import { checkpointRoutes } from "./http/routes/checkpoints.ts";
import { trustBundleText } from "./core/timestamp.ts";
import { trustList, trustListVerifier } from "./core/verify/timestamp-verifier.ts";
import { Checkpointer } from "./timestamping/checkpoints.ts";
import { DevelopmentTsa } from "./timestamping/development-tsa.ts";
import { developmentTsa, httpTsa, TsaStamper, type TsaSource } from "./timestamping/stamper.ts";
import type { Verify } from "./http/routes/verify.ts";
import { answerClientErrors, HttpProblem, requireHost, writeProblem } from "./http/problem.ts";
import { verifierRoutes } from "./http/routes/verifier.ts";
import { webRoutes } from "./http/routes/web.ts";
import { DocumentReader } from "./document/document-reader.ts";
import { DocumentRenderer } from "./document/document-renderer.ts";
import { Intake } from "./intake/intake.ts";
import { createLogger, type Logger } from "./log.ts";
import { openObjectStore } from "./objects/open-object-store.ts";
import { listCaptureFiles } from "./capture/capture-files.ts";
import { movedAway } from "./store/moved.ts";
import { createAccount } from "./store/accounts.ts";
import { openStore } from "./store/open-store.ts";
import type { EvidenceStore } from "./store/store.ts";
import { makeDirectory } from "./make-directory.ts";

export interface RunningService {
  /** Where this process listens. */
  url: string;
  /** The address the public reaches it by (PUBLIC_URL, as QR codes print it), or the same. */
  publicUrl: string;
  chainUrl: string;
  chainId: number;
  contract: string;
  issuer: string;
  /** The development account's API key, on the start that created it. */
  devApiKey: string | undefined;
  store: EvidenceStore;
  anchorer: Anchorer;
  /** Stops intake, finishes the anchoring round in progress, closes the store, stops the chain node it started. */
  stop(): Promise<void>;
}

/**
 * Starts the whole service from its configuration — the composition root: store, object
 * store, chain, anchoring, reconciliation, intake, HTTP. Whatever was started is stopped
 * again if a later step fails, so a failed start leaves nothing running.
 */
export async function startService(
  config: ServiceConfig,
  log: Logger = createLogger(config.log),
): Promise<RunningService> {
  const cleanup: (() => Promise<void> | void)[] = [];
  const undo = async () => {
    for (const step of cleanup.reverse()) await Promise.resolve(step()).catch(() => undefined);
  };
  try {
    // Everything this process and its children (the chain node, Chromium) create is theirs
    // alone: evidence, keys, snapshots, captures, logs and sockets, 0600 files and 0700 directories.
    process.umask(0o077);
    makeDirectory(config.dataDir);
    const lock = lockDataDir(config.dataDir);
    cleanup.push(() => lock.release());
    const moved = config.databaseUrl === undefined ? movedAway(config.dataDir) : undefined;
    if (moved !== undefined) {
      throw new ConfigError(`${config.dataDir} is not this service's store any more. ${moved}`);
    }

    // The port is taken first: a port in use fails the start at once, before anything else runs.
    // Until the service is ready, requests are answered 503 with Retry-After.
    let handler: RequestListener = unavailable("STARTING", "the service is starting");
    const server: Server = createServer(
      {
        // Headers must arrive promptly; a whole request within an hour (a large upload at a
        // fair speed); uploads also keep a minimum rate (see connection-limits.ts).
        headersTimeout: 20_000,
        requestTimeout: 3_600_000,
        // A request without Host is answered as a problem (requireHost), not Node's bare 400.
        requireHostHeader: false,
      },
      requireHost((req, res) => handler(req, res)),
    );
    limitConnectionsPerAddress(server, config.limits.connectionsPerAddress);
    server.maxConnections = config.limits.connections;
    answerClientErrors(server);
    await listen(server, config.port, config.host);
    cleanup.push(() => closeServer(server));
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : config.port;

    // The web pages' bundle is built by esbuild in its own process, meanwhile.
    const web = webRoutes();
    web.catch(() => undefined); // awaited below; a failed start before then reports its own error

    const store = await openStore(config);
    cleanup.push(() => store.close());
    const objects = await openObjectStore(config);
    const removed = await objects.cleanTemporaryFiles();
    if (removed > 0) log.info(`removed ${removed} temporary files left by an interrupted upload`);
    const captureLog = log.child({ component: "capture" });
    await listCaptureFiles(store, objects, {
      info: (line) => captureLog.info(line),
      error: (line, err) => captureLog.error({ err }, line),
    });

    const issuer = await loadIssuerKey({ dataDir: config.dataDir, ...config.issuer });
    const previousIssuers = await loadPreviousIssuerKeys(config.issuer, issuer.address);
    const tx: TxOptions = { gasPrice: config.chain.gasPrice, legacy: config.chain.legacyTransactions };

    let localChain: LocalChain | undefined;
    let chainUrl: string;
    let chainId: number;
    let contract: string;
    if (config.chain.rpcUrl === undefined) {
      const chainLog = log.child({ component: "local-chain" });
      localChain = await startLocalChain({
        dataDir: config.dataDir,
        port: config.chain.localPort,
        blockTime: config.chain.localBlockTime,
        isolation: config.chain.localIsolation,
        log: (message) => chainLog.info(message),
      });
      cleanup.push(() => localChain!.stop());
      chainUrl = localChain.url;
      chainId = localChain.chainId;
      contract = await ensureLocalContract(store, localChain, issuer, tx, log);
    } else {
      chainUrl = config.chain.rpcUrl;
      if (config.chain.contract === undefined) throw new ConfigError("CHAIN_RPC_URL is set but ANCHOR_CONTRACT is not");
      contract = config.chain.contract;
      chainId = await resolveChainId(store, chainUrl, config.chain.chainId, log);
    }

    const trustPem = config.timestamps.trustFile
      ? trustBundleText(readFileSync(config.timestamps.trustFile))
      : undefined;
    const stamper = await timestampAuthorities(config, localChain !== undefined, trustPem);

    const client = new ChainClient(
      localChain ? (body: string) => localChain!.exchange(body) : chainUrl,
      chainId,
      issuer,
      contract,
      tx,
    );
    cleanup.push(() => client.destroy());
    // Version 2 signs once per batch: the calling thread is enough. Version 1 signs every
    // certificate: a worker keeps that off the event loop.
    const signerOf = (key: Wallet) =>
      config.issuer.certificateVersion === 2 ? new InProcessSigner(key.privateKey) : new WorkerSigner(key.privateKey);
    const signer = signerOf(issuer);
    cleanup.push(() => signer.close());
    const previousSigners = previousIssuers.map(signerOf);
    for (const previous of previousSigners) cleanup.push(() => previous.close());
    if (previousSigners.length > 0) {
      log.info(
        { previous: previousSigners.map((s) => s.address) },
        `batches anchored under ${previousSigners.length} previous key(s) are certified with them`,
      );
    }
    const anchorer = new Anchorer(
      store,
      client,
      signer,
      {
        certificateVersion: config.issuer.certificateVersion,
        ...config.batch,
        confirmations: config.chain.confirmations,
        receiptTimeoutMs: config.chain.receiptTimeoutMs,
        issuerName: config.issuer.name,
        // Replicas share a PostgreSQL database and take turns by the lease. SQLite lives in
        // DATA_DIR, which one instance holds alone (its lock): no lease, so a restart after
        // a crash anchors at once instead of waiting out the dead instance's lease.
        ...(config.databaseUrl ? { lease: anchoringLease(store, config.chain.leaseMs) } : {}),
        // On the embedded chain, no certificate is issued before the block that anchors it is on disk.
        ...(localChain ? { durableThrough: (n: number, hash: string) => localChain!.durableThrough(n, hash) } : {}),
        // The embedded node answers through its socket in about a millisecond: watched for its blocks.
        ...(localChain ? { blockWatchMs: 50 } : {}),
        ...(stamper ? { stamper } : {}),
        previousSigners,
      },
      log.child({ component: "anchoring" }),
    );
    cleanup.push(() => anchorer.stop());
    // The verifier's reads of the chain are kept, on an external chain only once as many
    // blocks are above them as the service waits for before it certifies (a newer block may
    // still be replaced, and anyone may ask the verify route about it first); a chain found
    // to have lost an anchor, or the newest block read, may have lost anything read before,
    // so they are forgotten.
    const verifierChain = new CachingChainReader(
      new JsonRpcChainReader(chainUrl, { timeoutMs: 5_000, label: SERVICE_NODE_LABEL }),
      { finalityDepth: localChain ? 0 : config.chain.confirmations - 1 },
    );
    const reconciler = new Reconciler({
      store,
      chain: client,
      log: log.child({ component: "reconciliation" }),
      intervalMs: config.chain.reconcileIntervalMs,
      onReopened: () => {
        verifierChain.forget();
        anchorer.notify();
      },
      nodeMayLag: localChain === undefined,
      verifierChain,
    });
    cleanup.push(() => reconciler.stop());
    const checkpointer =
      stamper && config.timestamps.checkpointIntervalMs > 0
        ? new Checkpointer({
            chain: client,
            store,
            stamper,
            intervalMs: config.timestamps.checkpointIntervalMs,
            log: log.child({ component: "checkpoints" }),
          })
        : undefined;
    if (checkpointer) cleanup.push(() => checkpointer.stop());
    const intake = new Intake({ store, objects, onCommitted: () => anchorer.notify() });
    cleanup.push(() => intake.close());

    const runner = new CaptureRunner({
      concurrency: config.capture.concurrency,
      queueLimit: config.capture.queueLimit,
      capture: {
        policy: new AddressPolicy({ allow: config.capture.allow }),
        limits: { timeoutMs: config.capture.timeoutMs },
        chromiumPath: config.capture.chromiumPath,
      },
    });
    const captures = new CaptureService({
      store,
      objects,
      intake,
      runner,
      policy: new AddressPolicy({ allow: config.capture.allow }),
      workDir: path.join(config.dataDir, "captures"),
      chromiumPath: config.capture.chromiumPath,
      capacity: config.capture.concurrency + config.capture.queueLimit,
      log: log.child({ component: "capture" }),
    });
    // Stopping: the runner is closed (captures under way are cancelled, and run again at the next start).
    cleanup.push(async () => {
      await runner.close();
      await captures.settle();
    });

    let devApiKey: string | undefined;
    if (config.devAccount && (await store.countAccounts()) === 0) {
      devApiKey = (await createAccount(store, "development")).apiKey;
    }

    const registries = [contract, ...config.chain.trustedContracts];
    // The service's own verifier trusts the TSAs of TSA_TRUST_CERTS only: never its own development TSA.
    const timestamps = trustListVerifier(trustList(trustPem));
    // PDFs given to verify are read in a worker thread: a document must not hold up the rest.
    const documentReader = new DocumentReader({ log: log.child({ component: "document-reader" }) });
    cleanup.push(() => documentReader.close());
    const verify: Verify = (input, { readThrough, ...options } = {}) =>
      verifyEvidence(input, {
        ...options,
        readDocument: documentReader.read,
        chain: readThrough ? readThrough(verifierChain) : verifierChain,
        timestamps,
        developmentChainIds: DEVELOPMENT_CHAIN_IDS,
        // On its own chain, the registries this service trusts are its own and the earlier ones
        // configured, as its page does.
        trustedContracts: (id) => (id === chainId ? registries : undefined),
      });

    const url = config.publicUrl ?? `http://${config.host}:${port}`;
    const site = () => ({
      publicUrl: url,
      chainNames: config.chain.names,
      developmentChainIds: DEVELOPMENT_CHAIN_IDS,
      chainId,
      contract,
      contracts: registries,
    });
    const renderer = new DocumentRenderer({ log, perClient: config.limits.documentsPerAddress });
    cleanup.push(() => renderer.close());
    const healthSources: HealthSources = {
      chainUrl,
      chainId,
      contract,
      store,
      anchoring: () => anchorer.health,
      ...(localChain ? { node: () => nodeStatus(localChain!.status) } : {}),
      reconciliation: () => reconciler.status,
      timestamps: async () => ({
        configured: stamper?.configured ?? 0,
        batchesWithout: stamper ? (await store.batchesToTimestamp(stamper.configured, 10_000)).length : 0,
        lastError: anchorer.health.timestamps.lastError ?? checkpointer?.lastError ?? null,
      }),
    };
    const app = createApp({
      store,
      objects,
      intake,
      verify,
      chainUrl,
      limits: config.limits,
      verifySpool: {
        dir: path.join(config.dataDir, "verify-spool"),
        bytes: config.limits.verifySpoolBytes,
        bytesPerAddress: config.limits.verifySpoolBytesPerAddress,
      },
      health: ((view: "operator" | "public") =>
        (view === "public" ? publicHealthOf : health)(healthSources)) as AppDependencies["health"],
      healthToken: config.healthToken,
      captures,
      renderer,
      site,
      log,
      routers: [checkpointRoutes(store), await web, verifierRoutes()],
    });
    handler = app;
    anchorer.start();
    reconciler.start();
    checkpointer?.start();
    await captures.resume();

    let stopping: Promise<void> | undefined;
    return {
      url: `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`,
      publicUrl: url,
      chainUrl,
      chainId,
      contract,
      issuer: issuer.address,
      devApiKey,
      store,
      anchorer,
      // New requests are told the service is stopping, and those under way finish (3 s at
      // most) before anything they use is closed: none meets a closed store (a 500).
      stop: () =>
        (stopping ??= (async () => {
          handler = unavailable("SHUTTING_DOWN", "the service is stopping");
          await closeServer(server);
          await undo();
        })()),
    };
  } catch (e) {
    await undo();
    throw e;
  }
}

/**
 * The time-stamp authorities every root is stamped by: TSA_URLS; on the embedded chain,
 * unless TSA_URLS says otherwise, the development TSA under DATA_DIR/keys/tsa, so a
 * newcomer sees the feature (its tokens say everywhere that courts do not trust it).
 */
async function timestampAuthorities(
  config: ServiceConfig,
  embedded: boolean,
  trustPem: string | undefined,
): Promise<TsaStamper | undefined> {
  const sources: TsaSource[] = (config.timestamps.urls ?? []).map((u) => httpTsa(u, config.timestamps.timeoutMs));
  const trust = trustList(trustPem);
  if (config.timestamps.urls === undefined && embedded) {
    const tsa = await DevelopmentTsa.open(path.join(config.dataDir, "keys", "tsa"));
    sources.push(developmentTsa(tsa));
    trust.push(...tsa.trustAnchors());
  }
  return sources.length === 0 ? undefined : new TsaStamper(sources, { required: config.timestamps.required, trust });
}

/** The embedded chain's process, for health. */
function nodeStatus(status: LocalChainStatus) {
  return {
    state: status.state,
    restarts: status.restarts,
    lastExit: status.lastExit
      ? `${status.lastExit.at}: ${status.lastExit.reason ?? `code ${status.lastExit.code}, signal ${status.lastExit.signal}`}`
      : null,
    lastSnapshotBlock: status.lastSnapshot?.blockNumber ?? null,
  };
}

/** Listens, or fails with one clear line (a port in use, an address not available here). */
async function listen(server: Server, port: number, host: string): Promise<void> {
  server.listen(port, host);
  try {
    await once(server, "listening");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE") throw new ConfigError(`port ${port} on ${host} is already in use (set PORT)`);
    if (code === "EADDRNOTAVAIL") throw new ConfigError(`cannot listen on ${host}: no such address here (set HOST)`);
    throw e;
  }
}

/** Answers every request 503 with Retry-After: STARTING while it starts, SHUTTING_DOWN while it stops. */
function unavailable(code: "STARTING" | "SHUTTING_DOWN", detail: string): RequestListener {
  return (_req, res) => writeProblem(res, new HttpProblem(503, code, detail), { "retry-after": "2" });
}

/** Stops accepting connections and closes the open ones (at once if idle, after 3 s if not). Idempotent. */
async function closeServer(server: Server): Promise<void> {
  if (!server.listening) return;
  const closed = once(server, "close");
  server.close();
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), 3_000);
  await closed;
  clearTimeout(timer);
}
