import { expect } from "chai";
import { execFile } from "node:child_process";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const ROUTE = fileURLToPath(new URL("../../service/http/routes/verifier.ts", import.meta.url));

/** Builds the standalone verifier in a separate process started in `cwd`; its SHA-256, and whether it names this checkout's path. */
function buildFrom(cwd: string): Promise<{ sha256: string; namesCheckout: boolean }> {
  const script = `
    const { buildVerifier } = await import(${JSON.stringify(ROUTE)});
    const { body, sha256 } = await buildVerifier();
    console.log(JSON.stringify({ sha256, namesCheckout: body.includes(${JSON.stringify(ROOT)}) }));`;
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ["--input-type=module", "-e", script], { cwd }, (error, stdout, stderr) =>
      error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(JSON.parse(stdout)),
    ),
  );
}

describe("the standalone verifier (service/http/routes/verifier.ts)", function () {
  this.timeout(60_000);

  it("is the same bytes whichever directory the service starts from, naming no path of this machine", async () => {
    const [fromRoot, fromTmp] = await Promise.all([buildFrom(ROOT), buildFrom(tmpdir())]);
    expect(fromTmp).to.deep.equal(fromRoot);
    expect(fromRoot.namesCheckout).to.equal(false);
  });
});
