import { createRequire } from "node:module";
import hardhatToolboxMochaEthers from "@nomicfoundation/hardhat-toolbox-mocha-ethers";
import { defineConfig } from "hardhat/config";

const require = createRequire(import.meta.url);

export default defineConfig({
  plugins: [hardhatToolboxMochaEthers],
  solidity: {
    // Compiled offline: the compiler ships inside the pinned `solc` npm package.
    version: "0.8.30",
    path: require.resolve("solc/soljson.js"),
    settings: {
      // Paris: no PUSH0, so the contract deploys on older consortium EVMs too.
      evmVersion: "paris",
      optimizer: { enabled: true, runs: 10_000 },
    },
  },
  test: {
    mocha: {
      timeout: 120_000,
    },
  },
});
