import { readFileSync } from "node:fs";
import type { InterfaceAbi } from "ethers";

/** The compiled EvidenceAnchor (abi and bytecode), committed under contracts/build/ (scripts/export-artifact.ts). */
export function loadArtifact(): { abi: InterfaceAbi; bytecode: string; deployedBytecode: string } {
  const file = new URL("../../contracts/build/EvidenceAnchor.json", import.meta.url);
  return JSON.parse(readFileSync(file, "utf8")) as { abi: InterfaceAbi; bytecode: string; deployedBytecode: string };
}
