import { Interface } from "ethers";
import artifact from "../../contracts/build/EvidenceAnchor.json" with { type: "json" };

/**
 * The EvidenceAnchor contract's interface (docs/protocol.md §7), taken from the compiled artifact the
 * service deploys, so the ABI cannot drift from the contract.
 */
export const EVIDENCE_ANCHOR_ABI = artifact.abi;
export const evidenceAnchorInterface = new Interface(EVIDENCE_ANCHOR_ABI);

/** topic0 of `Anchored(bytes32 indexed root, address indexed anchorer, uint64 treeSize, uint64 timestamp)`. */
export const ANCHORED_TOPIC = evidenceAnchorInterface.getEvent("Anchored")!.topicHash;
