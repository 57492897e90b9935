import type { Wallet } from "ethers";
import { JsonRpcChainReader } from "../core/index.ts";
import type { Logger } from "../log.ts";
import type { EvidenceStore } from "../store/store.ts";
import { ChainClient, type TxOptions } from "./chain-client.ts";
import type { LocalChain } from "./local-chain.ts";

/** 1,000 ether in wei: what the issuer is given on the embedded development chain. */
const DEVELOPMENT_BALANCE = 1000n * 10n ** 18n;

/**
 * The embedded chain's contract: deployed at first start (the issuer funded through
 * Anvil's development method, then made admin and anchorer), and reused after. A data
 * directory whose contract has vanished from the chain is refused: certificates were
 * issued on a chain state this node does not hold.
 */
export async function ensureLocalContract(
  store: EvidenceStore,
  chain: LocalChain,
  issuer: Wallet,
  tx: TxOptions,
  log: Logger,
): Promise<string> {
  const { url, chainId } = chain;
  const known = await store.getMeta("contract");
  const reader = new JsonRpcChainReader(url);
  if (known !== undefined) {
    if (await reader.hasCode(known)) return known;
    throw new Error(
      `the local chain has lost contract ${known}; the chain state under ${url} is not the one certificates were issued on`,
    );
  }
  await chain.fund(issuer.address, DEVELOPMENT_BALANCE);
  const address = await ChainClient.deploy(url, chainId, issuer, issuer.address, tx);
  const client = new ChainClient(url, chainId, issuer, address, tx);
  try {
    await client.grantAnchorerRole(issuer.address);
    // The contract is remembered only once the chain holds it on disk: after a power cut
    // before that, the next start deploys again instead of refusing a chain that lost it.
    const head = await client.blockNumber();
    await chain.durableThrough(head, (await client.blockHash(head)) ?? undefined);
  } finally {
    client.destroy();
  }
  await store.setMeta("contract", address);
  await store.setMeta("chainId", String(chainId));
  log.info({ contract: address, chainId }, `deployed EvidenceAnchor at ${address} on the local chain ${chainId}`);
  return address;
}

/**
 * The chain id of an external chain, checked against what this data directory was used
 * with (and against CHAIN_ID, if set). Remembered from the first start, so intake works
 * while the chain is down; with CHAIN_ID set, even a first start does. A node of another
 * chain is refused: certificates would name a chain their anchors are not on.
 */
export async function resolveChainId(
  store: EvidenceStore,
  url: string,
  configured: number | undefined,
  log: Logger,
): Promise<number> {
  const stored = await store.getMeta("chainId");
  const known = stored === undefined ? undefined : Number(stored);
  if (known !== undefined && configured !== undefined && known !== configured) {
    throw new Error(`CHAIN_ID is ${configured}, but this data directory belongs to chain ${known}`);
  }
  const expected = known ?? configured;
  let id: number;
  try {
    id = await new JsonRpcChainReader(url).chainId();
  } catch (e) {
    if (expected === undefined) {
      throw new Error(`the chain at ${url} is not reachable, and its id is not known yet (set CHAIN_ID)`, { cause: e });
    }
    log.warn(`the chain at ${url} is not reachable now; anchoring will resume when it is`);
    return expected;
  }
  if (expected !== undefined && id !== expected) {
    throw new Error(
      `the chain at ${url} has id ${id}, but ${known !== undefined ? "this data directory belongs to" : "CHAIN_ID is"} chain ${expected}`,
    );
  }
  await store.setMeta("chainId", String(id));
  return id;
}
