import { expect } from "chai";
import { EventEmitter } from "node:events";
import { DUPLICATE_SIGNAL_MS, stopSignal } from "../../service/cli/commands/serve.ts";
import { EXIT } from "../../service/cli/exit.ts";

/** A stand-in for `process`: signals are emitted by the test, the clock is set by it. */
function harness() {
  const signals = new EventEmitter();
  const exits: number[] = [];
  let time = 1_000_000;
  const stopped = stopSignal(
    signals,
    (code) => exits.push(code),
    () => time,
  );
  return { signals, exits, stopped, advance: (ms: number) => (time += ms) };
}

describe("serve: stopping on a signal", () => {
  it("resolves with the first signal, SIGINT or SIGTERM", async () => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      const { signals, stopped, exits } = harness();
      signals.emit(signal);
      expect(await stopped).to.equal(signal);
      expect(exits).to.deep.equal([]);
    }
  });

  it("takes a second signal within the duplicate window as the same request (npm passing on its group's signal)", async () => {
    const { signals, stopped, exits, advance } = harness();
    signals.emit("SIGINT");
    advance(DUPLICATE_SIGNAL_MS - 1);
    signals.emit("SIGINT");
    signals.emit("SIGTERM");
    await stopped;
    expect(exits).to.deep.equal([]);
  });

  it("ends the process at once, as failed, on a second signal after the window (a person's second Ctrl-C)", async () => {
    const { signals, stopped, exits, advance } = harness();
    signals.emit("SIGTERM");
    await stopped;
    advance(DUPLICATE_SIGNAL_MS);
    signals.emit("SIGINT");
    expect(exits).to.deep.equal([EXIT.failed]);
  });

  it("never leaves a signal without a listener, so none can take its default action and kill the process unclean", async () => {
    const { signals, stopped } = harness();
    const counts = () => [signals.listenerCount("SIGINT"), signals.listenerCount("SIGTERM")];
    expect(counts()).to.deep.equal([1, 1]);
    signals.emit("SIGINT");
    expect(counts()).to.deep.equal([1, 1]);
    await stopped;
    expect(counts()).to.deep.equal([1, 1]);
  });
});
