import { rmSync } from "node:fs";
import S3rver from "s3rver";
import { tempDir } from "./processes.ts";

/** The credentials s3rver accepts (it checks SigV4 signatures made with them). */
export const S3RVER_CREDENTIALS = { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER" };

export interface S3Server {
  endpoint: string;
  bucket: string;
  /** OBJECT_STORE_URL for this server's bucket under `prefix`. */
  url(prefix?: string): string;
  /** Keys of the objects written (PUT, POST, copy) since the server started, in order. */
  created: string[];
  stop(): Promise<void>;
}

/**
 * A local S3-compatible server for tests only (s3rver, files in a temporary directory),
 * on a free loopback port, with one bucket. No object lock, no versioning: a stand-in to
 * exercise the S3 protocol, not a storage product.
 */
export async function startS3Server(bucket = "evidence"): Promise<S3Server> {
  const directory = tempDir("s3");
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  const created: string[] = [];
  server.on("event", (event) => {
    for (const record of event.Records) {
      if (record.eventName.startsWith("ObjectCreated")) created.push(record.s3.object.key);
    }
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    url: (prefix = "") =>
      `s3://${bucket}/${prefix}?endpoint=${encodeURIComponent(endpoint)}&region=us-east-1&forcePathStyle=true`,
    created,
    async stop() {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
