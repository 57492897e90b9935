import { expect } from "chai";
import { AbiCoder, Interface } from "ethers";
import {
  ANCHORED_EVENT_TOPIC,
  decodeAnchoredLog,
  decodeAnchorOf,
  encodeAnchorOf,
} from "../../service/core/anchor-abi.ts";
import { EVIDENCE_ANCHOR_ABI } from "../../service/core/contract.ts";
import type { Hex32 } from "../../service/core/hex.ts";
import { seededRandom } from "../helpers/random.ts";

const iface = new Interface(EVIDENCE_ANCHOR_ABI);
const coder = AbiCoder.defaultAbiCoder();
const random = seededRandom(5);
const word = () =>
  `0x${Array.from({ length: 32 }, () =>
    Math.floor(random() * 256)
      .toString(16)
      .padStart(2, "0"),
  ).join("")}` as Hex32;

/** ethers' reading of a log, in the shape decodeAnchoredLog gives, or null when ethers refuses it. */
function ethersLog(topics: string[], data: string) {
  try {
    const parsed = iface.parseLog({ topics, data });
    if (!parsed || parsed.name !== "Anchored") return null;
    return {
      root: String(parsed.args[0]).toLowerCase(),
      anchorer: String(parsed.args[1]),
      treeSize: Number(parsed.args[2]),
      timestamp: Number(parsed.args[3]),
    };
  } catch {
    return null;
  }
}

describe("the EvidenceAnchor ABI read by verifiers (anchor-abi.ts)", () => {
  it("encodes anchorOf(root) as ethers' Interface does, from the compiled artifact", () => {
    for (let i = 0; i < 10; i++) {
      const root = word();
      expect(encodeAnchorOf(root)).to.equal(iface.encodeFunctionData("anchorOf", [root]));
    }
  });

  it("has the Anchored topic of the artifact's event", () => {
    expect(ANCHORED_EVENT_TOPIC).to.equal(iface.getEvent("Anchored")!.topicHash);
  });

  it("decodes the registry's anchorOf answers, exactly three uint64 words, as ethers does", () => {
    for (const values of [
      [1_790_000_000, 12, 8],
      [0, 0, 0],
      [2 ** 53 - 1, 2 ** 40, 1],
    ]) {
      const result = coder.encode(["uint64", "uint64", "uint64"], values);
      const [t, b, s] = iface.decodeFunctionResult("anchorOf", result);
      expect(decodeAnchorOf(result)).to.deep.equal({
        timestamp: Number(t),
        blockNumber: Number(b),
        treeSize: Number(s),
      });
    }
  });

  it("refuses an anchorOf answer that is not exactly three uint64 words, as Solidity's decoder does (ethers would read a longer one, each word modulo 2^64)", () => {
    const three = coder.encode(["uint64", "uint64", "uint64"], [3, 4, 5]);
    const answers: [string, string][] = [
      ["a word past 64 bits", coder.encode(["uint256", "uint256", "uint256"], [2n ** 64n + 5n, 2, 3])],
      ["trailing data", `${three}${"00".repeat(32)}`],
      ["two words", coder.encode(["uint64", "uint64"], [3, 4])],
      ["nothing", "0x"],
      ["an odd digit more", `${three}0`],
      ["not hex", "not hex"],
    ];
    for (const [desc, result] of answers) expect(() => decodeAnchorOf(result), desc).to.throw();
    expect(iface.decodeFunctionResult("anchorOf", answers[0]![1]).length, "ethers reads it").to.equal(3);
  });

  it("decodes Anchored logs as ethers' parseLog does, topics in either case", () => {
    const anchorer = `0x${"0".repeat(24)}${word().slice(26)}`;
    const data = coder.encode(["uint64", "uint64"], [100_000, 1_790_000_123]);
    const root = word();
    const upper = (hex: string) => `0x${hex.slice(2).toUpperCase()}`;
    const cases: [string, string[]][] = [
      ["an Anchored log", [ANCHORED_EVENT_TOPIC, root, anchorer]],
      ["topics in upper case", [ANCHORED_EVENT_TOPIC, upper(root), upper(anchorer)]],
    ];
    for (const [desc, topics] of cases) {
      expect(decodeAnchoredLog(topics, data), desc).to.deep.equal(ethersLog(topics, data));
    }
    // A node that writes topic0's hex digits in upper case still names the event.
    expect(decodeAnchoredLog([upper(ANCHORED_EVENT_TOPIC), root, anchorer], data)).to.deep.equal(
      ethersLog([ANCHORED_EVENT_TOPIC, root, anchorer], data),
    );
  });

  it("reads no Anchored event from a log that is not exactly one: another event, a bad topic, or data that is not two uint64 words", () => {
    const anchorer = `0x${"0".repeat(24)}${word().slice(26)}`;
    const data = coder.encode(["uint64", "uint64"], [100_000, 1_790_000_123]);
    const root = word();
    const cases: [string, string[], string][] = [
      ["an address topic with high bits set", [ANCHORED_EVENT_TOPIC, root, `0x01${anchorer.slice(4)}`], data],
      ["short data", [ANCHORED_EVENT_TOPIC, root, anchorer], data.slice(0, 66)],
      ["trailing data", [ANCHORED_EVENT_TOPIC, root, anchorer], `${data}${"ab".repeat(32)}`],
      [
        "values past 64 bits",
        [ANCHORED_EVENT_TOPIC, root, anchorer],
        coder.encode(["uint256", "uint256"], [2n ** 64n + 7n, 2n ** 70n]),
      ],
      ["a short root topic", [ANCHORED_EVENT_TOPIC, root.slice(0, 40), anchorer], data],
      ["another event", [word(), root, anchorer], data],
      ["two topics", [ANCHORED_EVENT_TOPIC, root], data],
    ];
    for (const [desc, topics, d] of cases) expect(decodeAnchoredLog(topics, d), desc).to.equal(null);
  });
});
