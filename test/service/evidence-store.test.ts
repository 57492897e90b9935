import { expect } from "chai";
import { rmSync } from "node:fs";
import path from "node:path";
import { createAccount } from "../../service/accounts.ts";
import { buildRecord } from "../../service/core/index.ts";
import { EvidenceStore, newEvidence, type NewEvidence } from "../../service/store/evidence-store.ts";
import { tempDir } from "../helpers/processes.ts";
import { sha256Hex } from "../helpers/hash.ts";

describe("the evidence store's group commit (SQLite on disk)", () => {
  let dir: string;
  let file: string;
  let store: EvidenceStore;
  let account: string;
  let commits: number;

  beforeEach(() => {
    dir = tempDir("store");
    file = path.join(dir, "evidence.db");
    store = new EvidenceStore(file);
    account = createAccount(store, "test").account.id;
    // Count the commits the store makes on the real database.
    commits = 0;
    const exec = store.db.exec.bind(store.db);
    store.db.exec = (sql: string) => {
      if (sql === "COMMIT") commits++;
      exec(sql);
    };
  });

  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  let counter = 0;
  const items = (n: number, id?: string): NewEvidence[] =>
    Array.from({ length: n }, () =>
      newEvidence(
        buildRecord({
          contentHash: sha256Hex(`item ${counter++}`),
          submitter: account,
          ...(id ? { id } : {}),
        }),
        false,
      ),
    );
  const stored = () => (store.all("SELECT count(*) AS n FROM evidence") as { n: number }[])[0]!.n;

  it("commits the requests that are ready together in one transaction, and resolves each after it", async () => {
    const requests = [items(3), items(1), items(5)];
    const settled = requests.map((r) => store.commitEvidence(account, r));
    expect(stored(), "nothing before the commit").to.equal(0);
    await Promise.all(settled);
    expect([stored(), commits]).to.deep.equal([9, 1]);
    const reopened = new EvidenceStore(file);
    expect((reopened.all("SELECT count(*) AS n FROM evidence") as { n: number }[])[0]!.n, "durable").to.equal(9);
    reopened.close();
  });

  it("commits a request that comes after a commit in the next one", async () => {
    await store.commitEvidence(account, items(2));
    await store.commitEvidence(account, items(2));
    expect([stored(), commits]).to.deep.equal([4, 2]);
  });

  it("fails only the request that cannot be stored, and commits the others of its group", async () => {
    const [taken] = items(1);
    await store.commitEvidence(account, [taken!]);
    const duplicate = items(1, taken!.record.id); // an id already stored: the insert must fail
    const outcomes = await Promise.allSettled([
      store.commitEvidence(account, items(2)),
      store.commitEvidence(account, duplicate),
      store.commitEvidence(account, items(3)),
    ]);
    expect(outcomes.map((o) => o.status)).to.deep.equal(["fulfilled", "rejected", "fulfilled"]);
    expect(stored()).to.equal(1 + 2 + 3);
  });

  it("commits what is queued when it is closed", async () => {
    const queued = store.commitEvidence(account, items(4));
    store.close();
    await queued;
    const reopened = new EvidenceStore(file);
    expect((reopened.all("SELECT count(*) AS n FROM evidence") as { n: number }[])[0]!.n).to.equal(4);
    reopened.close();
  });
});
