import { expect } from "chai";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { JsonRpcChainReader, parseCertificate, verifyCertificate } from "../../service/core/index.ts";
import { example } from "../helpers/vectors.ts";

/** An HTTP server on loopback that answers every request with `answer` (or never, when it is null). */
async function node(
  answer: { status: number; type: string; body: string } | null,
): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    if (answer) res.writeHead(answer.status, { "content-type": answer.type }).end(answer.body);
  }).listen(0, "127.0.0.1");
  await once(server, "listening");
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server };
}

/**
 * What a node that cannot be read does to a verdict: never "invalid". A typo in the node's
 * address, a web page where a node should be, a node that hangs or refuses — each is a
 * could-not-verify, with the reason in words.
 */
describe("JsonRpcChainReader against nodes that cannot be read (real HTTP on loopback)", () => {
  const certificate = parseCertificate(example.certificateV2());
  const cases: [string, { status: number; type: string; body: string } | null, string][] = [
    [
      "a web page where a node should be",
      { status: 200, type: "text/html", body: "<html>Welcome</html>" },
      "not-json-rpc",
    ],
    // A gateway's 502, 503 or 504 says the node behind it is down: unreachable, not "not a node".
    ["a proxy's error page", { status: 502, type: "text/html", body: "Bad Gateway" }, "unreachable"],
    [
      "this service's /rpc when its own node is down",
      {
        status: 502,
        type: "application/problem+json",
        body: '{"type":"about:blank","title":"Bad Gateway","status":502,"code":"CHAIN_UNREACHABLE","detail":"the chain node did not answer"}',
      },
      "unreachable",
    ],
    [
      "a web page served with 200 by a gateway",
      { status: 200, type: "text/html", body: "Bad Gateway" },
      "not-json-rpc",
    ],
    [
      "a JSON-RPC error",
      {
        status: 200,
        type: "application/json",
        body: '{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"method not found"}}',
      },
      "rpc-error",
    ],
    [
      "an answer of the wrong shape",
      { status: 200, type: "application/json", body: '{"jsonrpc":"2.0","id":1,"result":{"chain":1}}' },
      "bad-answer",
    ],
    ["a node that never answers", null, "timeout"],
  ];
  for (const [what, answer, failure] of cases) {
    it(`could not verify against ${what} (${failure})`, async () => {
      const { url, server } = await node(answer);
      try {
        const result = await verifyCertificate(certificate, { chain: new JsonRpcChainReader(url, { timeoutMs: 300 }) });
        const anchor = result.checks.find((c) => c.id === "anchor")!;
        expect([result.verdict, anchor.status]).to.deep.equal(["indeterminate", "error"]);
        expect(anchor.reason).to.include({ code: "anchor.unreachable", failure, node: url });
      } finally {
        server.closeAllConnections();
        server.close();
      }
    });
  }

  it("could not verify against an address where nothing listens (unreachable)", async () => {
    const { url, server } = await node(null);
    server.close();
    await once(server, "close");
    const result = await verifyCertificate(certificate, { chain: new JsonRpcChainReader(url) });
    expect(result.checks.find((c) => c.id === "anchor")!.reason).to.include({
      code: "anchor.unreachable",
      failure: "unreachable",
    });
    expect(result.verdict).to.equal("indeterminate");
  });
});
