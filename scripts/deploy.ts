#!/usr/bin/env node
/**
 * Deploys EvidenceAnchor to an EVM chain and records it in deployments/<chainId>.json.
 *
 *   node scripts/deploy.ts --rpc URL [--keystore FILE] [--member ADDRESS]… [--admin ADDRESS]
 *                          [--gas-price WEI] [--legacy] [--out DIR]
 *
 * The deploying key: --keystore FILE (an encrypted JSON keystore, password in
 * $DEPLOYER_KEYSTORE_PASSWORD), or $DEPLOYER_PRIVATE_KEY. Each --member gets ANCHORER_ROLE.
 * --gas-price 0 sends legacy transactions at zero gas price, for zero-gas consortium chains.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Wallet, getAddress } from "ethers";
import { deployEvidenceAnchor, recordDeployment } from "../service/chain/deploy.ts";

const USAGE =
  "usage: node scripts/deploy.ts --rpc URL [--keystore FILE] [--member ADDRESS]… [--admin ADDRESS] [--gas-price WEI] [--legacy] [--out DIR]";

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        rpc: { type: "string" },
        keystore: { type: "string" },
        member: { type: "string", multiple: true },
        admin: { type: "string" },
        "gas-price": { type: "string" },
        legacy: { type: "boolean" },
        out: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const rpcUrl = values.rpc ?? process.env.CHAIN_RPC_URL;
  if (!rpcUrl) {
    console.error(`--rpc is required\n${USAGE}`);
    return 2;
  }
  let deployer: Wallet;
  if (values.keystore) {
    const password = process.env.DEPLOYER_KEYSTORE_PASSWORD;
    if (password === undefined) {
      console.error("set DEPLOYER_KEYSTORE_PASSWORD for --keystore");
      return 2;
    }
    const unlocked = await Wallet.fromEncryptedJson(readFileSync(values.keystore, "utf8"), password);
    deployer = new Wallet(unlocked.privateKey);
  } else if (process.env.DEPLOYER_PRIVATE_KEY) {
    deployer = new Wallet(process.env.DEPLOYER_PRIVATE_KEY);
  } else {
    console.error(`no deploying key: --keystore FILE or $DEPLOYER_PRIVATE_KEY\n${USAGE}`);
    return 2;
  }
  const gasPrice = values["gas-price"] === undefined ? undefined : BigInt(values["gas-price"]);
  const deployment = await deployEvidenceAnchor({
    rpcUrl,
    deployer,
    ...(values.admin ? { admin: getAddress(values.admin) } : {}),
    anchorers: (values.member ?? []).map((m) => getAddress(m)),
    tx: { gasPrice, legacy: values.legacy === true },
  });
  const file = recordDeployment(values.out ?? "deployments", deployment);
  console.log(`EvidenceAnchor deployed at ${deployment.contract} on chain ${deployment.chainId}`);
  console.log(`  admin ${deployment.admin}; anchorers ${deployment.anchorers.join(", ") || "(none)"}`);
  console.log(`  recorded in ${file}`);
  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    console.error(`deploy failed: ${(e as Error).message}`);
    process.exitCode = 1;
  },
);
