import { isIPv4, isIPv6 } from "node:net";
import ipaddr from "ipaddr.js";
import { CaptureError } from "./errors.ts";

/**
 * Which addresses and ports a capture may reach: the defence against server-side request
 * forgery (OWASP SSRF). A capture runs a browser inside the service's network; without this a
 * user could make it read loopback services, the intranet or a cloud metadata endpoint and
 * then receive the result as a signed screenshot.
 *
 * The rule: only globally reachable unicast addresses, on ports 80 and 443, unless the address
 * lies in the operator's allow-list (`CAPTURE_ALLOW`), which lifts both the address and the port
 * check for that range (tests and intranet deployments). Ports are restricted because a browser
 * pointed at an arbitrary port of a public host is a cross-protocol attack tool (RFC 7230 §9.4
 * style request smuggling into SMTP, Redis, …); web pages live on 80 and 443.
 */

/** Why an address is refused, or `public` when it is not. */
export type AddressCategory =
  | "public"
  | "unspecified"
  | "loopback"
  | "private"
  | "linkLocal"
  | "carrierGradeNat"
  | "multicast"
  | "broadcast"
  | "reserved"
  | "documentation"
  | "benchmarking"
  | "metadata"
  | "transition"
  | "invalid";

export interface AddressVerdict {
  /** The address in its canonical text form (IPv4-mapped IPv6 is reported as the IPv4 address). */
  address: string;
  allowed: boolean;
  category: AddressCategory;
  /** Set when the category comes from an IPv4 address embedded in an IPv6 one (mapped, NAT64, …). */
  embeddedIn?: "ipv4Mapped" | "ipv4Compatible" | "nat64";
  /** True when the allow-list admitted an address the rules would refuse. */
  allowListed: boolean;
  /** A sentence for logs and the manifest. */
  reason: string;
}

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

function cidr(text: string): Range {
  return ipaddr.parseCIDR(text);
}

/**
 * Ranges that are not globally reachable unicast, most specific first. Sources: the IANA IPv4
 * and IPv6 Special-Purpose Address Registries (RFC 6890), RFC 1918, RFC 6598 (CGNAT), RFC 4193
 * (unique local), RFC 4291 §2.5.5 (IPv4-compatible/-mapped), RFC 6052 and RFC 8215 (NAT64),
 * RFC 3056 (6to4), RFC 4380 (Teredo), RFC 9637 (IPv6 documentation), and the cloud providers'
 * metadata endpoints (AWS, GCP, Azure, Alibaba Cloud at 100.100.100.200, AWS IPv6 fd00:ec2::254).
 */
const IPV4_RANGES: [Range, AddressCategory][] = [
  [cidr("169.254.169.254/32"), "metadata"],
  [cidr("169.254.170.2/32"), "metadata"],
  [cidr("100.100.100.200/32"), "metadata"],
  [cidr("255.255.255.255/32"), "broadcast"],
  [cidr("0.0.0.0/8"), "unspecified"],
  [cidr("10.0.0.0/8"), "private"],
  [cidr("100.64.0.0/10"), "carrierGradeNat"],
  [cidr("127.0.0.0/8"), "loopback"],
  [cidr("169.254.0.0/16"), "linkLocal"],
  [cidr("172.16.0.0/12"), "private"],
  [cidr("192.0.0.0/24"), "reserved"],
  [cidr("192.0.2.0/24"), "documentation"],
  [cidr("192.31.196.0/24"), "reserved"],
  [cidr("192.52.193.0/24"), "reserved"],
  [cidr("192.88.99.0/24"), "transition"],
  [cidr("192.168.0.0/16"), "private"],
  [cidr("192.175.48.0/24"), "reserved"],
  [cidr("198.18.0.0/15"), "benchmarking"],
  [cidr("198.51.100.0/24"), "documentation"],
  [cidr("203.0.113.0/24"), "documentation"],
  [cidr("224.0.0.0/4"), "multicast"],
  [cidr("240.0.0.0/4"), "reserved"],
];

const IPV6_RANGES: [Range, AddressCategory][] = [
  [cidr("fd00:ec2::254/128"), "metadata"],
  [cidr("::/128"), "unspecified"],
  [cidr("::1/128"), "loopback"],
  [cidr("100::/64"), "reserved"],
  [cidr("64:ff9b:1::/48"), "private"],
  [cidr("2001:db8::/32"), "documentation"],
  [cidr("2001::/23"), "reserved"],
  [cidr("2002::/16"), "transition"],
  [cidr("3fff::/20"), "documentation"],
  [cidr("5f00::/16"), "reserved"],
  [cidr("fc00::/7"), "private"],
  [cidr("fec0::/10"), "private"],
  [cidr("fe80::/10"), "linkLocal"],
  [cidr("ff00::/8"), "multicast"],
];

/** IPv6 forms that carry an IPv4 address in their last 32 bits; the IPv4 address decides. */
const EMBEDDING: [Range, NonNullable<AddressVerdict["embeddedIn"]>][] = [
  [cidr("::ffff:0:0/96"), "ipv4Mapped"],
  [cidr("64:ff9b::/96"), "nat64"],
  [cidr("::/96"), "ipv4Compatible"],
];

/** Global unicast (RFC 4291 §2.4): everything outside it is unallocated or special. */
const IPV6_GLOBAL_UNICAST = cidr("2000::/3");

/**
 * Parses an IP address literal, strictly: dotted-quad IPv4 or IPv6 text (a zone id is dropped).
 * Host names and legacy IPv4 forms (`0x7f.1`, `2130706433`) are not addresses here: URLs are
 * parsed by the WHATWG URL parser first, which turns those into dotted quads.
 */
export function parseAddress(text: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  if (isIPv4(text)) return ipaddr.IPv4.parse(text);
  const bare = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  if (!isIPv6(bare)) return undefined;
  const withoutZone = bare.split("%")[0]!;
  // The URL parser writes any IPv6 text (embedded dotted quads included) in RFC 5952 form,
  // which is the form ipaddr.js reads.
  const canonical = new URL(`http://[${withoutZone}]/`).hostname.slice(1, -1);
  return ipaddr.IPv6.parse(canonical);
}

function lookup(address: ipaddr.IPv4 | ipaddr.IPv6, ranges: [Range, AddressCategory][]): AddressCategory | undefined {
  for (const [[base, bits], category] of ranges) {
    if (base.kind() === address.kind() && (address as ipaddr.IPv4).match(base as ipaddr.IPv4, bits)) return category;
  }
  return undefined;
}

function embeddedIpv4(address: ipaddr.IPv6): ipaddr.IPv4 {
  const bytes = address.toByteArray();
  return new ipaddr.IPv4(bytes.slice(12));
}

/**
 * The category of an address by the rules alone (no allow-list). IPv4-mapped, IPv4-compatible
 * and NAT64 addresses take the category of the IPv4 address they carry, because that is where a
 * packet to them ends up.
 */
export function classifyAddress(text: string): Pick<AddressVerdict, "address" | "category" | "embeddedIn"> {
  const parsed = parseAddress(text);
  if (parsed === undefined) return { address: text, category: "invalid" };
  if (parsed.kind() === "ipv4") {
    return { address: parsed.toString(), category: lookup(parsed, IPV4_RANGES) ?? "public" };
  }
  const v6 = parsed as ipaddr.IPv6;
  const special = lookup(v6, IPV6_RANGES.slice(0, 3));
  if (special) return { address: v6.toString(), category: special };
  for (const [[base, bits], form] of EMBEDDING) {
    if (!v6.match(base as ipaddr.IPv6, bits)) continue;
    const v4 = embeddedIpv4(v6);
    const category = lookup(v4, IPV4_RANGES) ?? "public";
    if (form === "ipv4Mapped") return { address: v4.toString(), category, embeddedIn: form };
    // IPv4-compatible addresses are deprecated (RFC 4291 §2.5.5.1): never a real destination.
    if (form === "ipv4Compatible") {
      return { address: v6.toString(), category: category === "public" ? "reserved" : category, embeddedIn: form };
    }
    return { address: v6.toString(), category, embeddedIn: form };
  }
  const category =
    lookup(v6, IPV6_RANGES) ?? (v6.match(IPV6_GLOBAL_UNICAST as [ipaddr.IPv6, number]) ? "public" : "reserved");
  return { address: v6.toString(), category };
}

/** Ports a capture may use on addresses outside the allow-list. */
export const DEFAULT_PORTS: readonly number[] = [80, 443];

/** The longest URL a capture accepts (the record's `sourceUrl` limit). */
export const MAX_URL_LENGTH = 4096;

export interface AddressPolicyOptions {
  /** CIDRs that bypass the address and port checks: an array, or `CAPTURE_ALLOW`'s comma-separated text. */
  allow?: string | readonly string[];
  /** Ports allowed outside the allow-list; default 80 and 443. */
  ports?: readonly number[];
}

/** Parses `CAPTURE_ALLOW`: comma-separated CIDRs (`127.0.0.1/32, 10.20.0.0/16`); a bare address means /32 or /128. */
export function parseAllowList(allow: string | readonly string[] | undefined): Range[] {
  const items = typeof allow === "string" ? allow.split(",") : (allow ?? []);
  const ranges: Range[] = [];
  for (const raw of items) {
    const item = raw.trim();
    if (item === "") continue;
    const [addressText, bitsText] = item.split("/") as [string, string | undefined];
    const address = parseAddress(addressText);
    const max = address?.kind() === "ipv4" ? 32 : 128;
    const bits = bitsText === undefined ? max : /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : NaN;
    if (address === undefined || !(bits >= 0 && bits <= max)) {
      throw new RangeError(`CAPTURE_ALLOW: "${item}" is not a CIDR such as 127.0.0.1/32 or fd00::/8`);
    }
    ranges.push([address, bits]);
  }
  return ranges;
}

export class AddressPolicy {
  readonly allow: readonly Range[];
  readonly ports: ReadonlySet<number>;

  constructor(options: AddressPolicyOptions = {}) {
    this.allow = parseAllowList(options.allow);
    this.ports = new Set(options.ports ?? DEFAULT_PORTS);
  }

  /** A policy from the environment: `CAPTURE_ALLOW`. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): AddressPolicy {
    return new AddressPolicy({ allow: env.CAPTURE_ALLOW ?? "" });
  }

  /** Decides whether a connection to `address` (an IP literal) on `port` may be made. */
  checkAddress(address: string, port?: number): AddressVerdict {
    const { address: canonical, category, embeddedIn } = classifyAddress(address);
    const parsed = category === "invalid" ? undefined : parseAddress(canonical);
    const allowListed = parsed !== undefined && this.isAllowListed(parsed);
    const via = embeddedIn ? ` (${embeddedIn} form)` : "";
    const base = { address: canonical, category, ...(embeddedIn ? { embeddedIn } : {}) };
    if (allowListed) return { ...base, allowed: true, allowListed: true, reason: `${canonical} is in CAPTURE_ALLOW` };
    if (category !== "public") {
      return {
        ...base,
        allowed: false,
        allowListed: false,
        reason: `${canonical} is ${/^[aeiou]/.test(category) ? "an" : "a"} ${category} address${via}`,
      };
    }
    if (port !== undefined && !this.ports.has(port)) {
      return {
        ...base,
        allowed: false,
        allowListed: false,
        reason: `port ${port} is not allowed (only ${[...this.ports].join(", ")} outside CAPTURE_ALLOW)`,
      };
    }
    return { ...base, allowed: true, allowListed: false, reason: `${canonical} is a public address` };
  }

  /**
   * Checks a URL before anything is fetched: http or https only, no credentials (they would be
   * recorded in the manifest and anchored for ever), at most {@link MAX_URL_LENGTH} characters,
   * and, when the host is an IP literal, the address policy. Host names are checked by the
   * guard proxy once resolved. Throws `URL_REFUSED` or `ADDRESS_REFUSED`.
   */
  checkUrl(text: string): URL {
    if (text.length > MAX_URL_LENGTH) {
      throw new CaptureError("URL_REFUSED", `the URL is longer than ${MAX_URL_LENGTH} characters`);
    }
    let url: URL;
    try {
      url = new URL(text);
    } catch (cause) {
      throw new CaptureError("URL_REFUSED", "not a valid absolute URL", { cause });
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new CaptureError("URL_REFUSED", `the scheme ${url.protocol} is not allowed: only http and https`);
    }
    if (url.username !== "" || url.password !== "") {
      throw new CaptureError("URL_REFUSED", "URLs with a user name or password are not captured");
    }
    if (url.hostname === "") throw new CaptureError("URL_REFUSED", "the URL has no host");
    const literal = parseAddress(url.hostname);
    if (literal !== undefined) {
      const verdict = this.checkAddress(url.hostname, portOf(url));
      if (!verdict.allowed) throw new CaptureError("ADDRESS_REFUSED", verdict.reason);
    }
    return url;
  }

  private isAllowListed(address: ipaddr.IPv4 | ipaddr.IPv6): boolean {
    return this.allow.some(
      ([base, bits]) => base.kind() === address.kind() && (address as ipaddr.IPv4).match(base as ipaddr.IPv4, bits),
    );
  }
}

/** The port a URL connects to: the explicit one or the scheme's default. */
export function portOf(url: URL): number {
  if (url.port !== "") return Number(url.port);
  return url.protocol === "https:" ? 443 : 80;
}
