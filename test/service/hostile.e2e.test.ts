import { expect } from "chai";
import { request } from "node:http";
import { canonicalBytes, hashLeaf, toHex32 } from "../../service/core/index.ts";
import { api, cleanUpDataDir, startServiceProcess, tempDir, type ServiceProcess } from "../helpers/processes.ts";
import { loadVector } from "../helpers/vectors.ts";
import { sha256Hex } from "../helpers/hash.ts";

interface HttpCase {
  desc: string;
  method: string;
  path: string;
  auth: boolean;
  headers?: Record<string, string>;
  body?: string;
  bodyBase64?: string;
  bodyRepeat?: { prefix: string; repeat: string; count: number; suffix: string };
  bodyNested?: number;
  status: number;
  code: string | null;
  fileName?: string;
  rpcError?: number;
}

interface CertificateCase {
  desc: string;
  op: "set" | "add" | "mul" | "push" | "delete" | "singleLeafTree" | "swapRecord";
  path?: string;
  value?: unknown;
  failing: string[];
}

const httpCases = loadVector<{ cases: HttpCase[] }>("hostile/http.json").cases;
const certificateCases = loadVector<{ cases: CertificateCase[] }>("hostile/certificates.json").cases;

function bodyOf(c: HttpCase): Buffer | undefined {
  if (c.body !== undefined) return Buffer.from(c.body, "utf8");
  if (c.bodyBase64 !== undefined) return Buffer.from(c.bodyBase64, "base64");
  if (c.bodyRepeat)
    return Buffer.from(c.bodyRepeat.prefix + c.bodyRepeat.repeat.repeat(c.bodyRepeat.count) + c.bodyRepeat.suffix);
  if (c.bodyNested) return Buffer.from(`{"items":${"[".repeat(c.bodyNested)}${"]".repeat(c.bodyNested)}}`);
  return undefined;
}

/** A raw HTTP request (fetch would refuse or rewrite some of these on purpose). */
function send(url: string, c: HttpCase, apiKey: string): Promise<{ status: number; type: string; body: any }> {
  const body = bodyOf(c);
  const headers: Record<string, string> = { ...c.headers };
  if (c.auth) headers.authorization = `Bearer ${apiKey}`;
  if (body) headers["content-length"] = String(body.length);
  return new Promise((resolve, reject) => {
    const req = request(new URL(c.path, url), { method: c.method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (d: Buffer) => chunks.push(d));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // left as text: the assertions will show it
        }
        resolve({ status: res.statusCode!, type: String(res.headers["content-type"]), body: parsed });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** Applies one mutation to a certificate (a JSON value); `path` is dot-separated. */
function mutate(certificate: any, c: CertificateCase, other: any): any {
  const copy = structuredClone(certificate);
  if (c.op === "swapRecord") {
    copy.record = other.record;
    return copy;
  }
  if (c.op === "singleLeafTree") {
    // A correct proof — the record alone as a tree of one — to a root nobody anchored.
    const leaf = toHex32(hashLeaf(canonicalBytes(copy.record)));
    copy.leafHash = leaf;
    copy.proof = { ...copy.proof, leafIndex: 0, treeSize: 1, path: [], root: leaf };
    return copy;
  }
  const keys = c.path!.split(".");
  const last = keys.pop()!;
  const parent = keys.reduce((o, k) => o[k], copy);
  if (c.op === "set") parent[last] = c.value;
  if (c.op === "add") parent[last] += c.value as number;
  if (c.op === "mul") parent[last] *= c.value as number;
  if (c.op === "push") parent[last].push(c.value);
  if (c.op === "delete") delete parent[last];
  return copy;
}

describe("hostile input (test/vectors/hostile/, a real service process)", function () {
  this.timeout(120_000);
  let service: ServiceProcess;
  let dataDir: string;

  before(async () => {
    dataDir = tempDir("hostile");
    service = await startServiceProcess(dataDir, { MAX_FILES_PER_REQUEST: "3", MAX_FILE_BYTES: String(1024 * 1024) });
  });

  after(async () => {
    await service?.stop();
    await cleanUpDataDir(dataDir);
  });

  describe("requests", () => {
    for (const c of httpCases) {
      it(`answers ${c.status}${c.code ? ` ${c.code}` : ""} to ${c.desc}`, async () => {
        const res = await send(service.url, c, service.apiKey!);
        expect(res.status, JSON.stringify(res.body)).to.equal(c.status);
        if (c.code) {
          expect(res.type).to.match(/^application\/problem\+json/);
          expect(res.body.code).to.equal(c.code);
        }
        if (c.fileName) expect(res.body.items[0].record.fileName).to.equal(c.fileName);
        if (c.rpcError) expect(res.body.error.code).to.equal(c.rpcError);
      });
    }

    it("is still alive and has written no partial record or temporary file", async () => {
      const health = await api(service.url).get("/healthz");
      expect(health.status).to.equal(200);
      expect(service.child.exitCode).to.equal(null);
      expect(service.output()).not.to.match(/INTERNAL|TypeError|ReferenceError/);
    });
  });

  describe("certificates", () => {
    let certificate: any;
    let other: any;
    before(async () => {
      const client = api(service.url, service.apiKey);
      // Nothing else pending: the two items below make a batch of exactly two.
      await client.settled();
      const { body } = await client.postJson("/api/v1/evidence/digests", {
        items: [{ contentHash: sha256Hex("one"), fileName: "one.png" }, { contentHash: sha256Hex("two") }],
      });
      certificate = await client.anchored(body.items[0].id);
      expect(certificate.proof).to.include({ leafIndex: 0, treeSize: 2 });
      other = await client.anchored(body.items[1].id);
      const res = await client.postJson("/api/v1/verify", { certificate });
      expect(res.body.valid, "the unmutated certificate is valid").to.equal(true);
    });

    for (const c of certificateCases) {
      it(`rejects ${c.desc}, failing ${c.failing.join(", ")}`, async () => {
        const res = await api(service.url).postJson("/api/v1/verify", { certificate: mutate(certificate, c, other) });
        expect(res.status).to.equal(200);
        expect(res.body.valid).to.equal(false);
        const failed = res.body.checks
          .filter((x: { status: string }) => x.status === "failed")
          .map((x: { id: string }) => x.id);
        expect(failed).to.deep.equal(c.failing);
      });
    }
  });
});
