import { writeSync } from "node:fs";
import { firstLineOf } from "../../core/errors.ts";
import { defineCommand } from "../command.ts";
import { EXIT, UsageError } from "../exit.ts";

async function withStore<T>(fn: (store: import("../../store/store.ts").EvidenceStore) => Promise<T>): Promise<T> {
  const [{ loadConfig }, { openStore }] = await Promise.all([
    import("../../config.ts"),
    import("../../store/open-store.ts"),
  ]);
  const config = loadConfig();
  if (config.databaseUrl === undefined) {
    // Keys made in a store that was moved would never reach the replicas.
    const { movedAway } = await import("../../store/moved.ts");
    const moved = movedAway(config.dataDir);
    if (moved !== undefined) throw new Error(`${config.dataDir} is not the service's store any more. ${moved}`);
  }
  const store = await openStore(config);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

export const accountsCreate = defineCommand({
  name: "accounts create",
  summary: "create an account and print its API key once",
  summaryZh: "创建账户，并打印其 API 密钥（仅此一次）",
  usage: `Usage: evidence accounts create --name NAME [--json]

Creates an account in the service's store ($DATABASE_URL, or $DATA_DIR, default ./data)
and prints its API key. The key is shown only this once; only its hash is stored.`,
  options: { name: { type: "string" }, json: { type: "boolean" } },
  async run({ values, positionals }) {
    refuseWords(positionals);
    if (values.name === undefined) throw new UsageError("--name is required");
    const name = values.name;
    const { createAccount } = await import("../../store/accounts.ts");
    // The key is written out before the account is stored: if it cannot be (a full disk, a
    // closed pipe), no account is created, rather than one whose key nobody has.
    let shown = false;
    try {
      await withStore((store) =>
        createAccount(store, name, ({ account, apiKey }) => {
          writeSync(
            process.stdout.fd,
            values.json
              ? `${JSON.stringify({ id: account.id, name: account.name, apiKey })}\n`
              : `Account ${account.id} (${account.name}) created.\nAPI key (shown once, keep it):\n\n  ${apiKey}\n\n`,
          );
          shown = true;
        }),
      );
    } catch (e) {
      if (e instanceof RangeError) throw new UsageError(e.message);
      if (!shown) throw new Error(`the API key could not be written out, so no account was created: ${firstLineOf(e)}`);
      throw new Error(`the account was not created, and the key printed above does not work: ${firstLineOf(e)}`);
    }
    return EXIT.ok;
  },
});

export const accountsList = defineCommand({
  name: "accounts list",
  summary: "list the accounts (never their keys)",
  summaryZh: "列出账户（从不列出其密钥）",
  usage: `Usage: evidence accounts list [--json]

Lists the accounts in the service's store: id, name, creation time.`,
  options: { json: { type: "boolean" } },
  async run({ values, positionals }) {
    refuseWords(positionals);
    const accounts = await withStore((store) => store.listAccounts());
    for (const a of accounts) {
      console.log(
        values.json
          ? JSON.stringify({ id: a.id, name: a.name, createdAt: a.createdAt })
          : `${a.id}  ${a.createdAt}  ${a.name}`,
      );
    }
    return EXIT.ok;
  },
});

/** Words after the command are a mistake (an unquoted `--name Acme Corp` would name the account "Acme"). */
function refuseWords(positionals: string[]): void {
  if (positionals.length > 0) {
    throw new UsageError(`unexpected ${positionals.map((p) => `"${p}"`).join(" ")} (quote a name with spaces)`);
  }
}
