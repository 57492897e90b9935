/**
 * A process that runs one LocalChain, as the service does, so that tests can kill -9 it
 * (and its node) like a power cut. Options come as JSON in argv[2]. It prints one JSON line
 * per event on stdout: {"ready": {url, pid}}, {"durable": {...}}, {"error": "..."}; and takes
 * one JSON command per line on stdin: {"durable": [blockNumber, blockHash]}, {"fund": [address, wei]}.
 * SIGTERM stops the chain cleanly.
 */
import { createInterface } from "node:readline";
import { LocalChain, type LocalChainOptions } from "../../service/chain/local-chain.ts";

// Runs only as the child process the tests start (the test runner also loads every file under test/).
if (import.meta.main) await host();

async function host(): Promise<void> {
  const options = JSON.parse(process.argv[2]!) as LocalChainOptions;
  const print = (event: object) => process.stdout.write(`${JSON.stringify(event)}\n`);

  let chain: LocalChain;
  try {
    chain = await LocalChain.start({ ...options, log: (message) => process.stderr.write(`${message}\n`) });
  } catch (e) {
    print({ error: (e as Error).message, name: (e as Error).name });
    process.exit(1);
  }
  print({ ready: { url: chain.url, pid: chain.pid } });

  process.on("SIGTERM", () => {
    void chain.stop().then(() => process.exit(0));
  });

  for await (const line of createInterface({ input: process.stdin })) {
    const command = JSON.parse(line) as { durable?: [number, string?]; fund?: [string, string] };
    try {
      if (command.durable) print({ durable: await chain.durableThrough(...command.durable) });
      if (command.fund) {
        await chain.fund(command.fund[0], BigInt(command.fund[1]));
        print({ funded: command.fund[0] });
      }
    } catch (e) {
      print({ error: (e as Error).message });
    }
  }
}
