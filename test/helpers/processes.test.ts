import { expect } from "chai";
import { until } from "./processes.ts";

describe("until (test helper)", () => {
  it("returns the first value a probe gives, after probes that gave nothing or threw", async () => {
    let calls = 0;
    const value = await until(async () => {
      calls++;
      if (calls === 1) throw new Error("not yet");
      return calls === 3 ? "ready" : undefined;
    }, "a value");
    expect([value, calls]).to.deep.equal(["ready", 3]);
  });

  it("names the last error a probe threw when it times out, and keeps it as the cause", async () => {
    let calls = 0;
    const failure = await until(
      async () => {
        calls++;
        throw new Error(`connect ECONNREFUSED (attempt ${calls})`);
      },
      "the service",
      300,
    ).catch((e: Error) => e);
    expect(failure).to.be.instanceOf(Error);
    expect((failure as Error).message).to.equal(
      `timed out waiting for the service; the last error a probe threw: connect ECONNREFUSED (attempt ${calls})`,
    );
    expect(((failure as Error).cause as Error).message).to.equal(`connect ECONNREFUSED (attempt ${calls})`);
  });

  it("says only what it waited for when no probe threw", async () => {
    const failure = await until(async () => undefined, "nothing", 200).catch((e: Error) => e);
    expect((failure as Error).message).to.equal("timed out waiting for nothing");
  });
});
