import type { TimestampVerifier } from "./verify-certificate.ts";

/**
 * A time-stamp verifier that loads the RFC 3161 code only when a certificate carries a
 * token: most certificates are checked without it, and it is most of a page's weight.
 * `trustPem` is the PEM bundle of TSA roots the reader chose to trust (or none).
 */
export function lazyTimestampVerifier(
  trustPem: () => Promise<string | undefined> | string | undefined,
): TimestampVerifier {
  let loaded: Promise<TimestampVerifier> | undefined;
  return {
    verify(token, root) {
      loaded ??= (async () => {
        const [{ trustList, trustListVerifier }, pem] = await Promise.all([
          import("./timestamp-verifier.ts"),
          trustPem(),
        ]);
        return trustListVerifier(trustList(pem));
      })();
      // A trust list that cannot be read is the reader's to fix, never the token's fault:
      // the token could not be checked.
      return loaded.then(
        (v) => v.verify(token, root),
        () => ({ status: "error" as const, problem: "unreadable-trust-list" }),
      );
    },
  };
}
