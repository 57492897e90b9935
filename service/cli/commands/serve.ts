import { defineCommand } from "../command.ts";
import { EXIT } from "../exit.ts";

export const serve = defineCommand({
  name: "serve",
  summary: "run the service (what npm start runs)",
  summaryZh: "运行服务（即 npm start 所运行的）",
  usage: `Usage: evidence serve

Runs the service with its configuration from the environment (see README): with no
configuration, a local chain under ./data, the contract deployed on first start, a
development account, and http://127.0.0.1:8080. Stops cleanly on SIGINT or SIGTERM,
stopping the chain node it started. A failed start exits 1 with one line saying why.`,
  options: {},
  async run() {
    const [{ loadConfig }, { startService }, { createLogger }] = await Promise.all([
      import("../../config.ts"),
      import("../../server.ts"),
      import("../../log.ts"),
    ]);
    const config = loadConfig();
    const log = createLogger(config.log);
    const service = await startService(config, log);
    if (service.devApiKey) {
      console.log(`Development account created. Its API key (shown once, keep it):\n\n  ${service.devApiKey}\n`);
    }
    console.log(`  chain ${service.chainId} at ${service.chainUrl}, contract ${service.contract}`);
    console.log(`  issuer ${service.issuer}, data in ${config.dataDir}`);
    if (service.publicUrl !== service.url) console.log(`  public address ${service.publicUrl}`);
    // Last, so that whoever waits for this line has everything above it.
    console.log(`Evidence Anchor serving on ${service.url}`);
    const signal = await stopSignal();
    log.info(`${signal}: stopping`);
    await service.stop();
    log.info("stopped");
    return EXIT.ok;
  },
});

/** A signal this soon after the first is the same request, passed on by npm. */
export const DUPLICATE_SIGNAL_MS = 1_000;

/**
 * Resolves with the first SIGINT or SIGTERM. A second signal while stopping ends the
 * process at once (`exit(EXIT.failed)`) — unless it comes with the first: `npm start` passes
 * on to the service the signal its whole process group got (Ctrl-C in a terminal,
 * `kill -- -PGID`), so one request arrives twice, milliseconds apart. A person's second
 * Ctrl-C comes later than {@link DUPLICATE_SIGNAL_MS}.
 *
 * One listener stays registered throughout: were it swapped for another, a signal arriving
 * between the two would meet none, and its default action would end the process unclean.
 */
export function stopSignal(
  signals: NodeJS.EventEmitter = process,
  exit: (code: number) => void = process.exit,
  now: () => number = Date.now,
): Promise<NodeJS.Signals> {
  let first: number | undefined;
  return new Promise((resolve) => {
    const onSignal = (received: NodeJS.Signals) => {
      if (first === undefined) {
        first = now();
        resolve(received);
      } else if (now() - first >= DUPLICATE_SIGNAL_MS) {
        exit(EXIT.failed);
      }
    };
    for (const name of ["SIGINT", "SIGTERM"] as const) signals.on(name, () => onSignal(name));
  });
}
