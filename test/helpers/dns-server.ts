import { createSocket, type RemoteInfo } from "node:dgram";
import { once } from "node:events";
import { isIPv4, isIPv6 } from "node:net";

/**
 * A tiny authoritative DNS server over UDP on 127.0.0.1 (RFC 1035 §4): answers A and AAAA
 * questions from a table, NXDOMAIN for unknown names. A name may map to a list of answers
 * that it hands out in turn, one per query, which is how a rebinding attacker's server behaves.
 */
export interface DnsServer {
  /** `127.0.0.1:<port>`, for `dnsServerResolver`. */
  address: string;
  /** Questions received, as `name TYPE`. */
  queries: string[];
  stop(): Promise<void>;
}

export async function startDnsServer(zone: Record<string, string[] | string[][]>): Promise<DnsServer> {
  const socket = createSocket("udp4");
  const queries: string[] = [];
  const served = new Map<string, number>();
  socket.on("message", (message: Buffer, peer: RemoteInfo) => {
    const question = parseQuestion(message);
    if (!question) return;
    const type = question.type === 1 ? "A" : question.type === 28 ? "AAAA" : String(question.type);
    queries.push(`${question.name} ${type}`);
    const entry = zone[question.name.toLowerCase()];
    let addresses: string[] = [];
    if (entry !== undefined) {
      if (Array.isArray(entry[0])) {
        // The next answer set for each A question; the last one repeats.
        const turns = entry as string[][];
        const count = served.get(question.name) ?? 0;
        if (question.type === 1) served.set(question.name, count + 1);
        addresses = question.type === 1 ? turns[Math.min(count, turns.length - 1)]! : [];
      } else addresses = entry as string[];
    }
    const wanted = addresses.filter((a) =>
      question.type === 1 ? isIPv4(a) : question.type === 28 ? isIPv6(a) : false,
    );
    socket.send(answer(message, question, wanted, entry === undefined), peer.port, peer.address);
  });
  socket.bind(0, "127.0.0.1");
  await once(socket, "listening");
  return {
    address: `127.0.0.1:${socket.address().port}`,
    queries,
    stop: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

interface Question {
  name: string;
  type: number;
  end: number;
}

function parseQuestion(message: Buffer): Question | undefined {
  if (message.length < 12 || message.readUInt16BE(4) !== 1) return undefined;
  const labels: string[] = [];
  let offset = 12;
  while (offset < message.length) {
    const length = message[offset]!;
    offset += 1;
    if (length === 0) break;
    labels.push(message.subarray(offset, offset + length).toString("ascii"));
    offset += length;
  }
  if (offset + 4 > message.length) return undefined;
  return { name: labels.join("."), type: message.readUInt16BE(offset), end: offset + 4 };
}

function answer(query: Buffer, question: Question, addresses: string[], nxdomain: boolean): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0); // id
  header.writeUInt16BE(0x8400 | (query.readUInt16BE(2) & 0x0100) | (nxdomain ? 3 : 0), 2); // QR, AA, RD copied, RCODE
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(addresses.length, 6);
  const records = addresses.map((address) => {
    const data = isIPv4(address) ? Buffer.from(address.split(".").map(Number)) : ipv6Bytes(address);
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question's name
    rr.writeUInt16BE(question.type, 2);
    rr.writeUInt16BE(1, 4); // IN
    rr.writeUInt32BE(1, 6); // TTL 1 s: a rebinding server wants no caching
    rr.writeUInt16BE(data.length, 10);
    return Buffer.concat([rr, data]);
  });
  return Buffer.concat([header, query.subarray(12, question.end), ...records]);
}

function ipv6Bytes(address: string): Buffer {
  const [head, tail] = address.split("::") as [string, string | undefined];
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
  const out = Buffer.alloc(16);
  groups.forEach((group, i) => out.writeUInt16BE(parseInt(group, 16), i * 2));
  return out;
}
