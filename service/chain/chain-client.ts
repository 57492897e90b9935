import { setTimeout as delay } from "node:timers/promises";
import {
  Contract,
  ContractFactory,
  dataSlice,
  getAddress,
  JsonRpcApiProvider,
  JsonRpcProvider,
  Network,
  type JsonRpcError,
  type JsonRpcPayload,
  type JsonRpcResult,
  type TransactionRequest,
  type TransactionReceipt,
  type Wallet,
} from "ethers";
import {
  ANCHORED_TOPIC,
  EVIDENCE_ANCHOR_ABI,
  evidenceAnchorInterface,
  type AnchorOnChain,
  type Hex32,
} from "../core/index.ts";
import type { AnchorChain, AnchorLocation, SendResult } from "../anchoring/anchor-chain.ts";
import { loadArtifact } from "./artifact.ts";

/**
 * How the client reaches its node: a JSON-RPC URL, or a function that sends one JSON-RPC
 * body (a call or a batch) and returns the node's parsed answer — the embedded chain's
 * control socket, which spares the service's own anchoring the HTTP gateway it runs for
 * everyone else (half the trips through an event loop that intake keeps busy).
 */
export type ChainTransport = string | ((body: string) => Promise<unknown>);

export interface TxOptions {
  /** Gas price in wei; with it, transactions are legacy (type 0). 0 on zero-gas chains. */
  gasPrice: bigint | undefined;
  /** Legacy (type 0) transactions at the node's gas price. */
  legacy: boolean;
}

/**
 * The service's connection to the EvidenceAnchor contract over JSON-RPC (ethers): reads,
 * sends, and finds anchors. It decodes the contract's reverts, so callers see outcomes
 * (`already-anchored`), not error objects.
 */
export class ChainClient implements AnchorChain {
  readonly chainId: number;
  readonly contract: string;
  readonly provider: JsonRpcApiProvider;
  readonly #wallet: Wallet;
  readonly #instance: Contract;
  readonly #tx: TxOptions;

  constructor(url: ChainTransport, chainId: number, wallet: Wallet, contract: string, tx: TxOptions) {
    this.chainId = chainId;
    this.contract = contract;
    this.provider = chainProvider(url, chainId);
    this.#wallet = wallet.connect(this.provider);
    this.#instance = new Contract(contract, EVIDENCE_ANCHOR_ABI, this.#wallet);
    this.#tx = tx;
  }

  /** Deploys EvidenceAnchor with `admin` as the consortium admin; returns its address. */
  static async deploy(url: string, chainId: number, wallet: Wallet, admin: string, tx: TxOptions): Promise<string> {
    const provider = chainProvider(url, chainId);
    try {
      const artifact = loadArtifact();
      const factory = new ContractFactory(artifact.abi, artifact.bytecode, wallet.connect(provider));
      const contract = await factory.deploy(admin, await txOverrides(provider, tx));
      await mined(provider, contract.deploymentTransaction()!.hash, "the deployment");
      return await contract.getAddress();
    } finally {
      provider.destroy();
    }
  }

  /**
   * Whether `account` may anchor. An address that answers as no EvidenceAnchor does (no code
   * there: a call "succeeds" with nothing; other code: it reverts) is named as such, since a
   * transaction sent there would be mined and anchor nothing.
   */
  async hasAnchorerRole(account: string): Promise<boolean> {
    try {
      const role = (await this.#instance.getFunction("ANCHORER_ROLE")()) as string;
      return (await this.#instance.getFunction("hasRole")(role, account)) as boolean;
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (code !== "BAD_DATA" && code !== "CALL_EXCEPTION") throw e;
      if ((await this.provider.getCode(this.contract)) === "0x") {
        throw new Error(
          `the node has no contract at ${this.contract} on chain ${this.chainId}: check ANCHOR_CONTRACT, and that the node is in sync`,
        );
      }
      throw new Error(
        `the contract at ${this.contract} does not answer as an EvidenceAnchor: check ANCHOR_CONTRACT, and that the node is in sync`,
      );
    }
  }

  async grantAnchorerRole(account: string): Promise<void> {
    const role = (await this.#instance.getFunction("ANCHORER_ROLE")()) as string;
    const tx = (await this.#instance.getFunction("grantRole")(role, account, await this.#overrides())) as {
      hash: string;
    };
    await mined(this.provider, tx.hash, `granting ANCHORER_ROLE to ${account}`);
  }

  async anchorOf(root: Hex32): Promise<AnchorOnChain> {
    const [timestamp, blockNumber, treeSize] = (await this.#instance.getFunction("anchorOf")(root)) as bigint[];
    return { timestamp: Number(timestamp), blockNumber: Number(blockNumber), treeSize: Number(treeSize) };
  }

  /**
   * Sends `anchor(root, treeSize)` without waiting for it to be mined. What the transaction
   * needs from the node (its nonce, its gas, whose estimate also says whether the root is
   * anchored already, and its fees) is asked for at once, in one batched request, not one
   * after another: under load every round trip waits its turn on a busy event loop.
   */
  async sendAnchor(root: Hex32, treeSize: number): Promise<SendResult> {
    const anchor = this.#instance.getFunction("anchor");
    try {
      const [request, nonce, gasLimit, fees] = await Promise.all([
        anchor.populateTransaction(root, treeSize),
        this.#wallet.getNonce("pending"),
        anchor.estimateGas(root, treeSize),
        this.#overrides(),
      ]);
      // Signed here and broadcast: the signer's sendTransaction would ask for the fees again
      // for a legacy transaction.
      const signed = await this.#wallet.signTransaction({
        ...request,
        nonce,
        gasLimit,
        chainId: this.chainId,
        ...fees,
      });
      const tx = await this.provider.broadcastTransaction(signed);
      return { kind: "sent", txHash: tx.hash as Hex32 };
    } catch (e) {
      const reason = revertName(e);
      if (reason === "EvidenceAnchorAlreadyAnchored") return { kind: "already-anchored" };
      if (reason === "AccessControlUnauthorizedAccount") {
        throw new Error(
          `the contract refused anchor() from ${this.#wallet.address}: it has no ANCHORER_ROLE on ${this.contract}`,
        );
      }
      throw e;
    }
  }

  async holds(txHash: Hex32): Promise<boolean> {
    return (await this.provider.getTransaction(txHash)) !== null;
  }

  async receipt(txHash: Hex32): Promise<{ status: 0 | 1; blockNumber: number } | null> {
    return receiptOutcome(await this.provider.getTransactionReceipt(txHash));
  }

  async waitForReceipt(
    txHash: Hex32,
    confirmations: number,
    timeoutMs: number,
  ): Promise<{ status: 0 | 1; blockNumber: number } | null> {
    return receiptOutcome(await waitForReceipt(this.provider, txHash, confirmations, timeoutMs));
  }

  async blockNumber(): Promise<number> {
    return this.provider.getBlockNumber();
  }

  async blockHash(blockNumber: number): Promise<Hex32 | null> {
    const block = await this.provider.getBlock(blockNumber);
    return block?.hash ? (block.hash.toLowerCase() as Hex32) : null;
  }

  async locate(root: Hex32): Promise<AnchorLocation | null> {
    const onChain = await this.anchorOf(root);
    if (onChain.timestamp === 0) return null;
    const [log] = await this.provider.getLogs({
      address: this.contract,
      topics: [ANCHORED_TOPIC, root],
      fromBlock: onChain.blockNumber,
      toBlock: onChain.blockNumber,
    });
    if (!log) throw new Error(`root ${root} is anchored in block ${onChain.blockNumber} but its event is missing`);
    return {
      txHash: log.transactionHash as Hex32,
      blockNumber: onChain.blockNumber,
      blockHash: log.blockHash.toLowerCase() as Hex32,
      timestamp: onChain.timestamp,
      treeSize: onChain.treeSize,
      anchorer: getAddress(dataSlice(log.topics[2]!, 12)),
    };
  }

  destroy(): void {
    this.provider.destroy();
  }

  #overrides(): Promise<TransactionRequest> {
    return txOverrides(this.provider, this.#tx);
  }
}

/**
 * The name of the contract error a call reverted with, or undefined. ethers decodes it
 * when the node returns the revert data; some nodes only return the raw data, so the
 * selector is matched too.
 */
export function revertName(e: unknown): string | undefined {
  const err = e as { revert?: { name?: string }; data?: unknown; info?: { error?: { data?: unknown } } };
  if (err?.revert?.name) return err.revert.name;
  for (const data of [err?.data, err?.info?.error?.data]) {
    if (typeof data !== "string" || data.length < 10) continue;
    try {
      const parsed = evidenceAnchorInterface.parseError(data);
      if (parsed) return parsed.name;
    } catch {
      // Not one of the contract's errors.
    }
  }
  return undefined;
}

function receiptOutcome(receipt: TransactionReceipt | null): { status: 0 | 1; blockNumber: number } | null {
  return receipt ? { status: receipt.status === 1 ? 1 : 0, blockNumber: receipt.blockNumber } : null;
}

/**
 * How often a receipt is polled for while a transaction waits to be mined: a certificate
 * follows its block within this. A node behind a URL may be a metered service far away; the
 * embedded node, reached through its socket (a transport function), answers in about a
 * millisecond and is asked five times as often.
 */
function receiptPollMs(transport: ChainTransport): number {
  return typeof transport === "string" ? 250 : 50;
}

/**
 * A provider for one chain. The network is static: no start-up probing, so an unreachable
 * chain fails each call instead of retrying in the background. Results are never cached:
 * a block number or a missing receipt read a moment ago may already be out of date, and
 * anchoring decides on them.
 */
export function chainProvider(transport: ChainTransport, chainId: number): JsonRpcApiProvider {
  const options = { staticNetwork: true, pollingInterval: receiptPollMs(transport), cacheTimeout: -1 };
  return typeof transport === "string"
    ? new JsonRpcProvider(transport, Network.from(chainId), options)
    : new ExchangeProvider(transport, Network.from(chainId), options);
}

/** An ethers provider over a function that exchanges JSON-RPC bodies (see ChainTransport). */
class ExchangeProvider extends JsonRpcApiProvider {
  readonly #exchange: (body: string) => Promise<unknown>;

  constructor(
    exchange: (body: string) => Promise<unknown>,
    network: Network,
    options: ConstructorParameters<typeof JsonRpcApiProvider>[1],
  ) {
    super(network, options);
    this.#exchange = exchange;
  }

  override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<(JsonRpcResult | JsonRpcError)[]> {
    const answer = await this.#exchange(JSON.stringify(payload));
    return (Array.isArray(answer) ? answer : [answer]) as (JsonRpcResult | JsonRpcError)[];
  }
}

/**
 * Polls for the receipt until `confirmations` blocks hold the transaction. Unlike waiting
 * for new-block events, this cannot miss a transaction mined in the very block that was
 * the newest when the wait began (a chain that mines on demand may never make another).
 */
async function waitForReceipt(
  provider: JsonRpcApiProvider,
  txHash: string,
  confirmations: number,
  timeoutMs: number,
): Promise<TransactionReceipt | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const receipt = await provider.getTransactionReceipt(txHash);
    if (receipt) {
      const latest = confirmations <= 1 ? receipt.blockNumber : await provider.getBlockNumber();
      if (latest - receipt.blockNumber + 1 >= confirmations) return receipt;
    }
    const left = deadline - Date.now();
    if (left <= 0) return null;
    // At the provider's pace (receiptPollMs).
    await delay(Math.min(provider.pollingInterval, left));
  }
}

/** How long a set-up transaction (a deployment, a role grant) may take to be mined. */
const SETUP_TIMEOUT_MS = 120_000;

/** Waits for a set-up transaction to be mined and to succeed. */
async function mined(provider: JsonRpcApiProvider, txHash: string, what: string): Promise<void> {
  const receipt = await waitForReceipt(provider, txHash, 1, SETUP_TIMEOUT_MS);
  if (!receipt) throw new Error(`${what} (tx ${txHash}) was not mined within ${SETUP_TIMEOUT_MS / 1000} s`);
  if (receipt.status !== 1) throw new Error(`${what} (tx ${txHash}) failed on chain`);
}

/**
 * A transaction's type and fees, fully formed: legacy at GAS_PRICE when set; else EIP-1559
 * where the chain supports it, unless legacy transactions are asked for; else legacy at the
 * node's gas price.
 */
async function txOverrides(provider: JsonRpcApiProvider, tx: TxOptions): Promise<TransactionRequest> {
  if (tx.gasPrice !== undefined) return { type: 0, gasPrice: tx.gasPrice };
  const fees = await provider.getFeeData();
  if (!tx.legacy && fees.maxFeePerGas !== null && fees.maxPriorityFeePerGas !== null) {
    return { type: 2, maxFeePerGas: fees.maxFeePerGas, maxPriorityFeePerGas: fees.maxPriorityFeePerGas };
  }
  return { type: 0, gasPrice: fees.gasPrice ?? 0n };
}
