import { writeFileSync } from "node:fs";
import path from "node:path";
import { keccak256, type Wallet } from "ethers";
import { JsonRpcChainReader } from "../core/index.ts";
import { loadArtifact } from "./artifact.ts";
import { ChainClient, type TxOptions } from "./chain-client.ts";
import { makeDirectory } from "../make-directory.ts";

export interface Deployment {
  chainId: number;
  contract: string;
  admin: string;
  anchorers: string[];
  deployer: string;
  deployedAt: string;
  blockNumber: number;
  /** keccak256 of the deployed runtime code, to check a deployment against the source. */
  runtimeCodeHash: string;
}

/**
 * Deploys EvidenceAnchor to any EVM chain, grants ANCHORER_ROLE to each member's
 * service address, and returns the record of the deployment.
 */
export async function deployEvidenceAnchor(options: {
  rpcUrl: string;
  deployer: Wallet;
  admin?: string;
  anchorers: string[];
  tx: TxOptions;
}): Promise<Deployment> {
  const chainId = await new JsonRpcChainReader(options.rpcUrl).chainId();
  const admin = options.admin ?? options.deployer.address;
  if (admin !== options.deployer.address && options.anchorers.length > 0) {
    throw new Error("only the admin can grant roles: deploy with the admin key, or grant the roles later as the admin");
  }
  const contract = await ChainClient.deploy(options.rpcUrl, chainId, options.deployer, admin, options.tx);
  const client = new ChainClient(options.rpcUrl, chainId, options.deployer, contract, options.tx);
  try {
    for (const member of options.anchorers) await client.grantAnchorerRole(member);
    const code = await client.provider.getCode(contract);
    const blockNumber = await client.provider.getBlockNumber();
    if (keccak256(code) !== keccak256(loadArtifact().deployedBytecode)) {
      throw new Error(`the code at ${contract} is not the EvidenceAnchor that was deployed`);
    }
    return {
      chainId,
      contract,
      admin,
      anchorers: options.anchorers,
      deployer: options.deployer.address,
      deployedAt: new Date().toISOString(),
      blockNumber,
      runtimeCodeHash: keccak256(code),
    };
  } finally {
    client.destroy();
  }
}

/** Writes `<dir>/<chainId>.json`. */
export function recordDeployment(dir: string, deployment: Deployment): string {
  makeDirectory(dir, 0o777);
  const file = path.join(dir, `${deployment.chainId}.json`);
  writeFileSync(file, `${JSON.stringify(deployment, null, 2)}\n`);
  return file;
}
