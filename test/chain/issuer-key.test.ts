import { expect } from "chai";
import { rmSync } from "node:fs";
import path from "node:path";
import { Wallet } from "ethers";
import { loadPreviousIssuerKeys } from "../../service/chain/issuer-key.ts";
import { writeKeystore } from "../helpers/consortium.ts";
import { tempDir } from "../helpers/processes.ts";

const PASSWORD = "correct horse battery staple";

describe("the issuer's previous keys (ISSUER_PREVIOUS_KEYSTORES, keystores on disk)", () => {
  let dir: string;
  const keys = [Wallet.createRandom(), Wallet.createRandom(), Wallet.createRandom()];
  const file = (i: number, password = PASSWORD) =>
    writeKeystore(path.join(dir, `key-${i}-${password.length}.json`), keys[i]!.privateKey, password);
  /** `password` null: none set. */
  const load = (previousKeystores: string[], password: string | null = PASSWORD, current = keys[0]!.address) =>
    loadPreviousIssuerKeys({ previousKeystores, previousKeystoresPassword: password ?? undefined }, current);
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => "loaded",
      (e: Error) => e.message,
    );

  beforeEach(() => {
    dir = tempDir("issuer-keys");
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("loads each keystore once", async () => {
    const loaded = await load([file(1), file(2), file(1)]);
    expect(loaded.map((w) => w.address)).to.deep.equal([keys[1]!.address, keys[2]!.address]);
  });

  it("refuses the current key given as an earlier one, naming the file", async () => {
    const current = file(0);
    expect(await failure(load([file(1), current]))).to.equal(
      `ISSUER_PREVIOUS_KEYSTORES: ${current} holds the current issuer key ${keys[0]!.address}, not an earlier one`,
    );
  });

  it("loads none when none is given, and needs no password then", async () => {
    expect(await load([], null)).to.deep.equal([]);
  });

  it("refuses to start without a password, or with a keystore it cannot read or decrypt, naming the file", async () => {
    expect(await failure(load([file(1)], null))).to.equal(
      "ISSUER_PREVIOUS_KEYSTORES is set but neither ISSUER_PREVIOUS_KEYSTORES_PASSWORD nor ISSUER_KEYSTORE_PASSWORD is",
    );
    const missing = path.join(dir, "missing.json");
    expect(await failure(load([missing]))).to.match(
      new RegExp(`^ISSUER_PREVIOUS_KEYSTORES: cannot read ${missing}: ENOENT`),
    );
    const other = file(2, "another password");
    expect(await failure(load([other]))).to.match(new RegExp(`^ISSUER_PREVIOUS_KEYSTORES: cannot decrypt ${other}: `));
  });
});
