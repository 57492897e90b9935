import ipaddr from "ipaddr.js";

/**
 * The client a per-client limit counts, from the TCP peer's address: an IPv4 address as itself
 * (an IPv4-mapped IPv6 one as the IPv4 it carries), and an IPv6 address by its /64. A /64 is
 * the smallest network an IPv6 host is given (RFC 4291 §2.5.4, RFC 6177), and one host holds
 * all of its 2^64 addresses: counted one by one, a single client would have no limit at all.
 */
export function clientKey(address: string | undefined): string {
  if (address === undefined || !ipaddr.isValid(address)) return "unknown";
  const parsed = ipaddr.process(address);
  if (parsed.kind() === "ipv4") return parsed.toString();
  const parts = (parsed as ipaddr.IPv6).parts.slice(0, 4);
  return `${new ipaddr.IPv6([...parts, 0, 0, 0, 0]).toString()}/64`;
}
