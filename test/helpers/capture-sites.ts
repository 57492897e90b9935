import { execFileSync } from "node:child_process";
import { createHash, randomBytes, X509Certificate } from "node:crypto";
import { once } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { crc32, deflateSync, inflateSync } from "node:zlib";
import { paeth } from "../../service/core/pdf-attachment.ts";

export type Route = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface Site {
  port: number;
  /** Request paths in the order they arrived. */
  requests: string[];
  /** Resolves once `count` requests for `pathname` have arrived. */
  requested(pathname: string, count?: number): Promise<void>;
  close(): Promise<void>;
}

/** An HTTP(S) server on a loopback address that answers from `routes` by path; 404 otherwise. */
export async function startSite(
  routes: Record<string, Route>,
  options: { host?: string; port?: number; tls?: { cert: string; key: string } } = {},
): Promise<Site> {
  const requests: string[] = [];
  const waiting: { pathname: string; count: number; wake: () => void }[] = [];
  const seen = (pathname: string) => requests.filter((p) => p === pathname).length;
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const pathname = new URL(req.url ?? "/", "http://x").pathname;
    requests.push(pathname);
    for (const waiter of waiting.filter((w) => w.pathname === pathname && seen(pathname) >= w.count)) {
      waiting.splice(waiting.indexOf(waiter), 1);
      waiter.wake();
    }
    const route = routes[pathname];
    if (!route) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    void Promise.resolve(route(req, res)).catch(() => res.destroy());
  };
  const server = options.tls ? https.createServer(options.tls, handler) : http.createServer(handler);
  server.listen(options.port ?? 0, options.host ?? "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    requested: (pathname, count = 1) =>
      seen(pathname) >= count
        ? Promise.resolve()
        : new Promise<void>((wake) => waiting.push({ pathname, count, wake })),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Answers with `body` and the given content type. */
export function serve(contentType: string, body: string | Buffer, extra: Record<string, string> = {}): Route {
  return (_req, res) => {
    res.writeHead(200, { "content-type": contentType, "content-length": Buffer.byteLength(body), ...extra }).end(body);
  };
}

/** A route that holds every request until {@link Gate.open}, then answers with `route`. */
export interface Gate {
  route: Route;
  open(): void;
}

export function gate(route: Route): Gate {
  let opened = false;
  const held: (() => void)[] = [];
  return {
    route: (req, res) => {
      if (opened) return route(req, res);
      held.push(() => void route(req, res));
    },
    open: () => {
      opened = true;
      for (const release of held.splice(0)) release();
    },
  };
}

export function redirect(location: string, status = 302): Route {
  return (_req, res) => {
    res.writeHead(status, { location }).end();
  };
}

/** A solid-colour RGB PNG (RFC 2083): signature, IHDR, one IDAT, IEND. */
export function solidPng(width: number, height: number, rgb: [number, number, number]): Buffer {
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: width }, () => rgb).flat())]);
  return rgbPng(width, height, Buffer.concat(Array.from({ length: height }, () => row)));
}

/**
 * An RGB PNG of random pixels, as large as its pixels (no compression shrinks noise): a valid
 * image a browser loads whole, for pages whose capture must be large.
 */
export function noisePng(width: number, height: number): Buffer {
  const pixels = randomBytes((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) pixels[y * (width * 3 + 1)] = 0; // filter type None
  return rgbPng(width, height, pixels, 1);
}

/** A PNG of 8-bit RGB rows, each led by its filter byte. */
function rgbPng(width: number, height: number, pixels: Buffer, level = 6): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit depth, truecolour
  return Buffer.concat([
    Buffer.from("89504e470d0a1a0a", "hex"),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(pixels, { level })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/**
 * The pixels of an 8-bit, non-interlaced RGB or RGBA PNG (as Chromium writes screenshots):
 * each pixel's [r, g, b], row by row. Undoes the five filters of RFC 2083 §6.
 */
export function pngPixels(png: Buffer): { width: number; height: number; rgb: (x: number, y: number) => number[] } {
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  const [depth, colour, , , interlace] = png.subarray(24, 29);
  if (depth !== 8 || (colour !== 2 && colour !== 6) || interlace !== 0) throw new Error("not an 8-bit RGB(A) PNG");
  const channels = colour === 6 ? 4 : 3;
  const idat: Buffer[] = [];
  for (let at = 8; at < png.length;) {
    const length = png.readUInt32BE(at);
    if (png.toString("ascii", at + 4, at + 8) === "IDAT") idat.push(png.subarray(at + 8, at + 8 + length));
    at += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    for (let i = 0; i < stride; i++) {
      const x = raw[y * (stride + 1) + 1 + i]!;
      const a = i >= channels ? pixels[y * stride + i - channels]! : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + i]! : 0;
      const c = i >= channels && y > 0 ? pixels[(y - 1) * stride + i - channels]! : 0;
      const predictor = [0, a, b, (a + b) >> 1, paeth(a, b, c)][filter]!;
      pixels[y * stride + i] = (x + predictor) & 0xff;
    }
  }
  return {
    width,
    height,
    rgb: (x, y) => [...pixels.subarray(y * stride + x * channels, y * stride + x * channels + 3)],
  };
}

/** A one-page PDF (A4) whose page is filled with one colour: what a picture of it must show. */
export function solidPdf(rgb: [number, number, number]): Buffer {
  const colour = rgb.map((v) => (v / 255).toFixed(3)).join(" ");
  const content = `${colour} rg 0 0 595 842 re f`;
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
    `<< /Length ${content.length} >>\nstream\n${content}\nendstream`,
  ];
  let pdf = "%PDF-1.4\n";
  const offsets = objects.map((body, i) => {
    const offset = pdf.length;
    pdf += `${i + 1} 0 obj\n${body}\nendobj\n`;
    return offset;
  });
  const xref = pdf.length;
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) pdf += `${String(offset).padStart(10, "0")} 00000 n \n`;
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(pdf, "latin1");
}

export interface TestCertificate {
  /** The leaf and the CA, PEM, as the server sends them. */
  cert: string;
  key: string;
  caPem: string;
  /** Base64 SHA-256 of the leaf's SubjectPublicKeyInfo: the value for `--ignore-certificate-errors-spki-list`. */
  spkiSha256: string;
}

/** A private CA and a leaf certificate for `dnsNames`, made by openssl in `dir`. */
export function makeTestCertificate(dir: string, dnsNames: string[]): TestCertificate {
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  openssl("req", "-x509", ...ec, "-keyout", file("ca.key"), "-out", file("ca.pem"), "-days", "2",
    "-subj", "/O=Evidence Anchor tests/CN=Evidence Anchor Test CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"); // prettier-ignore
  openssl("req", ...ec, "-keyout", file("site.key"), "-out", file("site.csr"), "-subj", `/CN=${dnsNames[0]}`);
  writeFileSync(
    file("site.ext"),
    `subjectAltName=${dnsNames.map((n) => `DNS:${n}`).join(",")}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`,
  );
  openssl("x509", "-req", "-in", file("site.csr"), "-CA", file("ca.pem"), "-CAkey", file("ca.key"),
    "-CAcreateserial", "-out", file("site.pem"), "-days", "2", "-extfile", file("site.ext")); // prettier-ignore
  const leaf = readFileSync(file("site.pem"), "utf8");
  const caPem = readFileSync(file("ca.pem"), "utf8");
  const spki = new X509Certificate(leaf).publicKey.export({ type: "spki", format: "der" });
  return {
    cert: leaf + caPem,
    key: readFileSync(file("site.key"), "utf8"),
    caPem,
    spkiSha256: createHash("sha256").update(spki).digest("base64"),
  };
}

/** Decodes the quoted-printable text of an MHTML part (RFC 2045 §6.7) as UTF-8. */
export function decodeQuotedPrintable(text: string): string {
  const bytes: number[] = [];
  const unfolded = text.replace(/=\r?\n/g, "");
  for (let i = 0; i < unfolded.length; i++) {
    const c = unfolded[i]!;
    if (c === "=" && /^[0-9A-F]{2}$/i.test(unfolded.slice(i + 1, i + 3))) {
      bytes.push(parseInt(unfolded.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(c.charCodeAt(0));
  }
  return Buffer.from(bytes).toString("utf8");
}
