import { expect } from "chai";
import { createHash, randomBytes } from "node:crypto";
import { crc32 as zlibCrc32 } from "node:zlib";
import { crc32, createSha256, STREAM_HASH_ENGINE } from "../../service/core/stream-hash.ts";

/** `bytes` cut into pieces of uneven lengths, as reads and inflation hand them over. */
function pieces(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0, n = 1; at < bytes.length; at += n, n = (n * 7 + 3) % 65_537) out.push(bytes.subarray(at, at + n));
  return out;
}

describe("stream hashing (service/core/stream-hash.ts)", () => {
  const inputs: [string, Uint8Array][] = [
    ["nothing", new Uint8Array(0)],
    ['"123456789"', new TextEncoder().encode("123456789")],
    ["1 MiB of random bytes, in uneven pieces", new Uint8Array(randomBytes(1024 * 1024))],
  ];

  it("uses Node's own SHA-256 and CRC-32 where the runtime has them", () => {
    expect(STREAM_HASH_ENGINE).to.deep.equal({ sha256: "node", crc32: "node" });
  });

  for (const engine of ["node", "javascript"] as const) {
    describe(`the ${engine} implementation`, () => {
      for (const [what, bytes] of inputs) {
        it(`gives SHA-256 and CRC-32 of ${what} as OpenSSL and zlib do, however it is cut`, () => {
          const hash = createSha256(engine);
          let crc = 0;
          for (const piece of pieces(bytes)) {
            hash.update(piece);
            crc = crc32(piece, crc, engine);
          }
          expect(hash.digestHex()).to.equal(createHash("sha256").update(bytes).digest("hex"));
          expect(crc).to.equal(zlibCrc32(bytes));
        });
      }

      it('gives the check value of CRC-32/ISO-HDLC, 0xCBF43926 for "123456789"', () => {
        expect(crc32(new TextEncoder().encode("123456789"), 0, engine)).to.equal(0xcbf43926);
      });
    });
  }
});
