import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import type { Hex32 } from "./hex.ts";
import { checksumAddress } from "./issuer-signature.ts";

/**
 * The two pieces of the EvidenceAnchor ABI (DESIGN §5) a verifier reads, encoded and decoded
 * by hand: `anchorOf(bytes32)` and the `Anchored` event. A verifier needs nothing else of
 * the contract, and loading an ABI library for it would be most of a cold start.
 * test/core/anchor-abi.test.ts checks every value against ethers' Interface on the artifact.
 * Decoding is strict, as Solidity's own ABI decoder is: the exact number of words, each uint64
 * with its high bits zero (ethers would read a longer answer, and each word modulo 2^64). The
 * registry's answers always are exact; one that is not is no EvidenceAnchor's, and independent
 * verifiers reading it two ways would disagree (docs/protocol.md §8.4.6).
 * Solidity ABI: https://docs.soliditylang.org/en/latest/abi-spec.html
 */

function selector(signature: string): string {
  return bytesToHex(keccak_256(utf8ToBytes(signature)).subarray(0, 4));
}

/** topic0 of `Anchored(bytes32 indexed root, address indexed anchorer, uint64 treeSize, uint64 timestamp)`. */
export const ANCHORED_EVENT_TOPIC = `0x${bytesToHex(keccak_256(utf8ToBytes("Anchored(bytes32,address,uint64,uint64)")))}`;

const ANCHOR_OF = selector("anchorOf(bytes32)");

/** Call data of `anchorOf(root)`: the selector and the root as one 32-byte word. */
export function encodeAnchorOf(root: Hex32): string {
  return `0x${ANCHOR_OF}${root.slice(2)}`;
}

/**
 * `(uint64 timestamp, uint64 blockNumber, uint64 treeSize)` from an `eth_call` result.
 * Throws for anything but exactly three words, each below 2^64.
 */
export function decodeAnchorOf(result: string): { timestamp: number; blockNumber: number; treeSize: number } {
  const words = wordsOf(result, 3);
  return { timestamp: uint64(words[0]!), blockNumber: uint64(words[1]!), treeSize: uint64(words[2]!) };
}

export interface DecodedAnchored {
  root: Hex32;
  anchorer: string;
  treeSize: number;
  timestamp: number;
}

/**
 * An `Anchored` log's fields, or null when the log is not one: another topic0 (compared in
 * any case of hex digits), a topic count other than three, topics that are not hex words, an
 * address topic with bits above its 20 bytes, or data that is not exactly two words below 2^64.
 */
export function decodeAnchoredLog(topics: readonly unknown[], data: string): DecodedAnchored | null {
  if (topics.length !== 3 || !isAnchoredTopic(topics[0])) return null;
  const [, root, anchorer] = topics;
  if (typeof root !== "string" || typeof anchorer !== "string") return null;
  if (!WORD.test(root) || !WORD.test(anchorer) || !/^0x0{24}/.test(anchorer)) return null;
  let treeSize: number, timestamp: number;
  try {
    [treeSize, timestamp] = wordsOf(data, 2).map(uint64) as [number, number];
  } catch {
    return null;
  }
  return {
    root: root.toLowerCase() as Hex32,
    anchorer: checksumAddress(`0x${anchorer.slice(26)}`),
    treeSize,
    timestamp,
  };
}

/** Whether a log's topic0 is `Anchored`'s, in whatever case a node writes hex digits. */
export function isAnchoredTopic(topic: unknown): boolean {
  return typeof topic === "string" && topic.toLowerCase() === ANCHORED_EVENT_TOPIC;
}

const WORD = /^0x[0-9a-fA-F]{64}$/;

function wordsOf(hex: string, count: number): string[] {
  if (!/^0x[0-9a-fA-F]*$/.test(hex) || hex.length !== 2 + 64 * count) {
    throw new Error(`expected exactly ${count} ABI words`);
  }
  return Array.from({ length: count }, (_, i) => hex.slice(2 + 64 * i, 2 + 64 * (i + 1)));
}

/**
 * A uint64 word as a number; throws when its high 24 bytes are not zero. Values past 2^53 lose
 * precision as Number(bigint) does, and so equal no certificate's (those are safe integers).
 */
function uint64(word: string): number {
  if (!/^0{48}/.test(word)) throw new Error("a uint64 word with high bits set");
  return Number(BigInt(`0x${word.slice(48)}`));
}
