import { expect } from "chai";
import { SerialWorker, type SerialWorkerOptions, type WorkerJobError } from "../../service/serial-worker.ts";
import { SLOW_START_WORKER, type SlowStart } from "../helpers/slow-start-worker.ts";

/** How a job ended: its answer, or the error's code and message. */
const outcome = (job: Promise<number>) =>
  job.then(
    (n) => n,
    (e: WorkerJobError) => [e.code, e.message],
  );

describe("SerialWorker (one job at a time in a real worker thread)", function () {
  const workers: SerialWorker<number, number>[] = [];
  const worker = (start: SlowStart, options: Partial<SerialWorkerOptions<number>> = {}) => {
    const made = new SerialWorker<number, number>({
      url: SLOW_START_WORKER,
      workerData: start,
      timeoutMs: 1_000,
      task: "doubling",
      name: "the doubler",
      ...options,
    });
    workers.push(made);
    return made;
  };

  afterEach(async () => {
    for (const w of workers.splice(0)) await w.close();
  });

  it("does each job in order and answers it", async () => {
    const doubler = worker({ startMs: 0, jobMs: 0 });
    expect(await Promise.all([1, 2, 3].map((n) => doubler.run(n)))).to.deep.equal([2, 4, 6]);
  });

  it("times a job from when its worker is ready, not from its start-up: a worker that takes longer to start than a job may take still does the job", async () => {
    const doubler = worker({ startMs: 1_500, jobMs: 0 });
    expect(await outcome(doubler.run(21))).to.equal(42);
  });

  it("stops a job past its time limit with TIMEOUT, counted from its worker being ready", async () => {
    const doubler = worker({ startMs: 0, jobMs: 5_000 });
    expect(await outcome(doubler.run(1))).to.deep.equal(["TIMEOUT", "doubling took longer than 1000 ms"]);
  });

  it("fails the job of a worker that never gets ready with WORKER_FAILED once its start-up limit passes, and starts a new worker for the next", async () => {
    const doubler = worker({ startMs: 0, jobMs: 0, ready: false }, { startupTimeoutMs: 500 });
    const [first, second] = [outcome(doubler.run(1)), outcome(doubler.run(2))];
    const failed = ["WORKER_FAILED", "the doubler stopped while doubling (it did not start within 500 ms)"];
    // The new worker never gets ready either: the second fails as the first did, after its own start-up limit.
    expect([await first, await second]).to.deep.equal([failed, failed]);
  });
});
