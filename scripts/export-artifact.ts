/**
 * Copies the compiled EvidenceAnchor (abi, bytecode) from Hardhat's artifacts to
 * contracts/build/, which the service deploys from. A test keeps the two equal.
 *
 *     npx hardhat build && node scripts/export-artifact.ts
 */
import { readFileSync, writeFileSync } from "node:fs";

const source = new URL("../artifacts/contracts/EvidenceAnchor.sol/EvidenceAnchor.json", import.meta.url);
const target = new URL("../contracts/build/EvidenceAnchor.json", import.meta.url);
const { contractName, abi, bytecode, deployedBytecode } = JSON.parse(readFileSync(source, "utf8"));
writeFileSync(target, `${JSON.stringify({ contractName, abi, bytecode, deployedBytecode }, null, 2)}\n`);
