import { expect } from "chai";
import { EVIDENCE_PAGE } from "../../service/core/index.ts";
import {
  api,
  cleanUpDataDir,
  runCli,
  startServiceProcess,
  tempDir,
  type ServiceProcess,
} from "../helpers/processes.ts";
import { sha256Hex } from "../helpers/hash.ts";

describe("GET /api/v1/evidence, an account's own evidence (a real service process)", function () {
  this.timeout(60_000);
  let service: ServiceProcess;
  let dataDir: string;
  /** Two accounts, each with evidence submitted one request at a time, oldest first. */
  const accounts: { key: string; ids: string[] }[] = [];

  before(async () => {
    dataDir = tempDir("evidence-list");
    service = await startServiceProcess(dataDir, { DEV_ACCOUNT: "false" });
    for (const name of ["first", "second"]) {
      const created = await runCli(["accounts", "create", "--name", name, "--json"], { DATA_DIR: dataDir });
      accounts.push({ key: JSON.parse(created.stdout).apiKey, ids: [] });
    }
    // Interleaved, so that one account's items sit between the other's.
    for (let i = 0; i < 5; i++) {
      for (const [n, account] of accounts.entries()) {
        const { status, body } = await api(service.url, account.key).postJson("/api/v1/evidence/digests", {
          items: [{ contentHash: sha256Hex(`list ${n} ${i}`), fileName: `${n}-${i}.txt` }],
        });
        expect(status).to.equal(201);
        account.ids.push(body.items[0].id);
      }
    }
  });

  after(async () => {
    await service?.stop();
    await cleanUpDataDir(dataDir);
  });

  const list = (key: string, query = "") => api(service.url, key).get(`/api/v1/evidence${query}`);
  const newestFirst = (ids: string[]) => [...ids].reverse();

  it("lists the account's evidence newest first, with each item's status and record", async () => {
    const { status, body } = await list(accounts[0]!.key);
    expect(status).to.equal(200);
    expect(body.items.map((i: { id: string }) => i.id)).to.deep.equal(newestFirst(accounts[0]!.ids));
    expect(body.items[0].record).to.include({
      id: accounts[0]!.ids[4],
      fileName: "0-4.txt",
      contentHash: sha256Hex("list 0 4"),
    });
    expect(["pending", "anchoring", "anchored"]).to.include(body.items[0].status);
    expect(body.next).to.equal(null);
  });

  it("pages with limit, next and before: the pages together are the whole list, once, in order", async () => {
    const pages: string[][] = [];
    let query = "?limit=2";
    for (;;) {
      const { status, body } = await list(accounts[0]!.key, query);
      expect(status).to.equal(200);
      expect(body.items.length).to.be.at.most(2);
      pages.push(body.items.map((i: { id: string }) => i.id));
      if (body.next === null) break;
      expect(body.next).to.be.a("number");
      query = `?limit=2&before=${body.next}`;
    }
    expect(pages.map((p) => p.length)).to.deep.equal([2, 2, 1]);
    expect(pages.flat()).to.deep.equal(newestFirst(accounts[0]!.ids));
  });

  it(`takes ${EVIDENCE_PAGE.default} items by default and at most ${EVIDENCE_PAGE.max}; a limit of 1 gives one`, async () => {
    const created = await runCli(["accounts", "create", "--name", "many", "--json"], { DATA_DIR: dataDir });
    const key: string = JSON.parse(created.stdout).apiKey;
    const count = EVIDENCE_PAGE.max + 1;
    const { body } = await api(service.url, key).postJson("/api/v1/evidence/digests", {
      items: Array.from({ length: count }, (_, i) => ({ contentHash: sha256Hex(`many ${i}`) })),
    });
    const ids: string[] = body.items.map((i: { id: string }) => i.id);
    const byDefault = (await list(key)).body;
    expect(byDefault.items.map((i: { id: string }) => i.id)).to.deep.equal(
      newestFirst(ids).slice(0, EVIDENCE_PAGE.default),
    );
    expect(byDefault.next).to.be.a("number");
    const capped = (await list(key, `?limit=${count}`)).body;
    expect(capped.items).to.have.length(EVIDENCE_PAGE.max);
    const rest = (await list(key, `?limit=${count}&before=${capped.next}`)).body;
    expect([...capped.items, ...rest.items].map((i: { id: string }) => i.id)).to.deep.equal(newestFirst(ids));
    expect(rest.next).to.equal(null);
    expect((await list(key, "?limit=1")).body.items.map((i: { id: string }) => i.id)).to.deep.equal([ids[count - 1]]);
  });

  it("answers 400 for a limit that is not a positive integer, and gives the largest page for one too large", async () => {
    for (const limit of ["0", "-1", "1.5", "abc", "1e3", ""]) {
      const { status, body } = await list(accounts[0]!.key, `?limit=${limit}`);
      expect([status, body.code], limit).to.deep.equal([400, "INVALID_FIELD"]);
    }
    expect((await list(accounts[0]!.key, "?limit=100000")).status).to.equal(200);
  });

  it("answers 400 INVALID_CURSOR for a before that is not a positive integer", async () => {
    for (const before of ["0", "-1", "1.5", "abc", "1e3", "11.0", "9007199254740993"]) {
      const { status, body } = await list(accounts[0]!.key, `?before=${before}`);
      expect([status, body.code], before).to.deep.equal([400, "INVALID_CURSOR"]);
    }
  });

  it("never shows one account another's evidence, whatever the cursor", async () => {
    const [first, second] = accounts as [(typeof accounts)[0], (typeof accounts)[0]];
    const mine = (await list(second.key)).body.items.map((i: { id: string }) => i.id);
    expect(mine).to.deep.equal(newestFirst(second.ids));
    // A cursor taken from the first account's pages, used by the second, still shows only the second's.
    const firstPage = (await list(first.key, "?limit=1")).body;
    const crossed = (await list(second.key, `?before=${firstPage.next}`)).body.items.map((i: { id: string }) => i.id);
    expect(crossed.filter((id: string) => first.ids.includes(id))).to.deep.equal([]);
    expect(second.ids).to.include.members(crossed);
    // A cursor past everything shows the second account's whole list, and nothing of the first's.
    const all = (await list(second.key, `?before=${Number.MAX_SAFE_INTEGER}`)).body.items.map(
      (i: { id: string }) => i.id,
    );
    expect(all).to.deep.equal(newestFirst(second.ids));
  });

  it("answers 401 without an API key", async () => {
    const { status, body } = await api(service.url).get("/api/v1/evidence");
    expect([status, body.code]).to.deep.equal([401, "UNAUTHENTICATED"]);
  });
});
