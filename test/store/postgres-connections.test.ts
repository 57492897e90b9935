import { expect } from "chai";
import { once } from "node:events";
import { newPool } from "../../service/store/postgres-store.ts";
import { startPostgres, type PostgresServer } from "../helpers/postgres.ts";

/**
 * The connections of PostgresEvidenceStore against a real server: a database restart or
 * failover ends every connection, some of them handed out between two queries of a
 * transaction. None of that may end the process.
 */
describe("PostgreSQL connections that break (a real server)", function () {
  this.timeout(60_000);
  let server: PostgresServer;
  let url: string;

  before(async () => {
    server = await startPostgres();
    url = await server.createSchema();
  });

  after(async () => {
    await server?.stop();
  });

  it("lives on when a connection handed out breaks between two queries; that connection's next query fails, and the pool opens a new one", async () => {
    const pool = newPool(url, 2);
    try {
      const held = await pool.connect();
      const { rows } = await held.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
      // The server ends the connection while it is handed out and between queries, as a
      // restart does; its end is awaited on the socket's own connection, which no listener of
      // the client's errors stands in for.
      const ended = once((held as unknown as { connection: NodeJS.EventEmitter }).connection, "end");
      await pool.query("SELECT pg_terminate_backend($1)", [rows[0]!.pid]);
      await ended;
      await new Promise((resolve) => setImmediate(resolve));
      let failed: unknown;
      await held.query("SELECT 1").catch((e: unknown) => (failed = e));
      expect(failed, "the broken connection's next query").to.be.instanceOf(Error);
      held.release(failed as Error);
      const again = await pool.query<{ one: number }>("SELECT 1 AS one");
      expect(again.rows).to.deep.equal([{ one: 1 }]);
    } finally {
      await pool.end();
    }
  });
});
