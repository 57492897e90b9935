import { expect } from "chai";
import { ConcurrencyLimit } from "../../service/http/concurrency-limit.ts";

/** A task that starts when the limit lets it and ends when the test says. */
function task(log: string[], name: string) {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return {
    finish,
    run: async () => {
      log.push(`start ${name}`);
      await done;
      log.push(`end ${name}`);
      return name;
    },
  };
}

/** Lets every promise that can settle now settle. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("ConcurrencyLimit (how many capture packages the API reads at once)", () => {
  it("runs at most its limit at once; the others start in the order they came, each as one ends", async () => {
    const limit = new ConcurrencyLimit(2);
    const log: string[] = [];
    const tasks = ["a", "b", "c", "d"].map((name) => task(log, name));
    const results = tasks.map((t) => limit.run(t.run));
    await settle();
    expect(log).to.deep.equal(["start a", "start b"]);
    tasks[1]!.finish();
    await settle();
    expect(log).to.deep.equal(["start a", "start b", "end b", "start c"]);
    tasks[0]!.finish();
    tasks[2]!.finish();
    tasks[3]!.finish();
    expect(await Promise.all(results)).to.deep.equal(["a", "b", "c", "d"]);
    expect(log.filter((l) => l.startsWith("start"))).to.deep.equal(["start a", "start b", "start c", "start d"]);
  });

  it("gives the place of a task that failed to the next, and passes the failure on", async () => {
    const limit = new ConcurrencyLimit(1);
    const failed = limit.run(async () => {
      throw new Error("a damaged package");
    });
    const next = limit.run(async () => "read");
    await failed.then(
      () => expect.fail("should have failed"),
      (e: Error) => expect(e.message).to.equal("a damaged package"),
    );
    expect(await next).to.equal("read");
  });
});
