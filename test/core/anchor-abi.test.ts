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

  it("decodes anchorOf results as ethers does, including words past 64 bits and trailing data, and refuses short or odd ones", () => {
    const results = [
      coder.encode(["uint64", "uint64", "uint64"], [1_790_000_000, 12, 8]),
      coder.encode(["uint64", "uint64", "uint64"], [0, 0, 0]),
      coder.encode(["uint256", "uint256", "uint256"], [2n ** 64n + 5n, 2n ** 200n, 2n ** 63n]),
      `${coder.encode(["uint64", "uint64", "uint64"], [3, 4, 5])}${"00".repeat(32)}`,
      coder.encode(["uint64", "uint64"], [3, 4]),
      "0x",
      `${coder.encode(["uint64", "uint64", "uint64"], [3, 4, 5])}0`,
      "not hex",
    ];
    for (const result of results) {
      let expected: unknown;
      try {
        const [t, b, s] = iface.decodeFunctionResult("anchorOf", result);
        expected = { timestamp: Number(t), blockNumber: Number(b), treeSize: Number(s) };
      } catch {
        expected = "throws";
      }
      let ours: unknown;
      try {
        ours = decodeAnchorOf(result);
      } catch {
        ours = "throws";
      }
      expect(ours, result.slice(0, 40)).to.deep.equal(expected);
    }
  });

  it("decodes Anchored logs as ethers' parseLog does, and refuses the same malformed ones", () => {
    const anchorer = `0x${"0".repeat(24)}${word().slice(26)}`;
    const data = coder.encode(["uint64", "uint64"], [100_000, 1_790_000_123]);
    const root = word();
    const cases: [string, string[], string][] = [
      ["an Anchored log", [ANCHORED_EVENT_TOPIC, root, anchorer], data],
      [
        "topics in upper case",
        [ANCHORED_EVENT_TOPIC, root.toUpperCase().replace("0X", "0x"), anchorer.toUpperCase().replace("0X", "0x")],
        data,
      ],
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
    ];
    for (const [desc, topics, d] of cases) {
      expect(decodeAnchoredLog(topics, d), desc).to.deep.equal(ethersLog(topics, d));
    }
  });
});
