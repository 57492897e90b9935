import { bytesToHex } from "@noble/hashes/utils.js";
import {
  DEVELOPMENT_TSA_MARKER,
  parseTrustBundle,
  timestampTokenToBase64,
  verifyTimestampToken,
  type TsaTrustAnchor,
} from "../timestamp.ts";
import type { TimestampCheck, TimestampVerifier } from "./verify-certificate.ts";

/**
 * Checks RFC 3161 tokens against a trust list of TSA roots (never against what the
 * certificate carries). Results are remembered per token and root: the certificates of a
 * batch carry the same tokens, and checking one costs milliseconds.
 *
 * Kept out of core/index.ts: its ASN.1 and CMS code is most of a page's weight, so the
 * verification page loads it only for a certificate that carries tokens.
 */
export function trustListVerifier(trust: readonly TsaTrustAnchor[]): TimestampVerifier {
  const remembered = new Map<string, Promise<TimestampCheck>>();
  return {
    verify(token, root) {
      const key = `${bytesToHex(root)}/${timestampTokenToBase64(token)}`;
      let result = remembered.get(key);
      if (!result) {
        result = verifyTimestampToken(token, root, [...trust]).then((v) => ({
          status: v.status,
          ...(v.status !== "passed" ? { problem: v.detail.code } : {}),
          tsa: commonName(
            v.info?.tsa ?? v.info?.signer?.subject ?? (v.detail.code === "untrusted-tsa" ? v.detail.subject : ""),
          ),
          ...(v.info ? { genTime: v.info.genTime } : {}),
          // A token that says it is from a development TSA is labelled so even when it cannot be
          // checked: the label only ever weakens what a reader takes from it.
          development: v.development || (v.info?.signer?.subject ?? "").includes(DEVELOPMENT_TSA_MARKER),
        }));
        if (remembered.size >= 1024) remembered.clear();
        remembered.set(key, result);
      }
      return result;
    },
  };
}

/** A distinguished name's CN, for display; the whole name when it has none. */
function commonName(dn: string): string {
  const cn = /(?:^|,)\s*CN=([^,]+)/.exec(dn);
  return (cn ? cn[1]! : dn).trim();
}

/**
 * The TSA roots every verifier trusts without being told to. It is empty: a court should
 * trust a TSA because it chose to (TSA_TRUST_CERTS, `--tsa-trust FILE`, the page's field),
 * and no root could be checked against its authority from here. docs/timestamps.md says
 * where to obtain the roots of the TSAs in use (联合信任, DigiCert, Sectigo, …).
 */
export const BUILT_IN_TSA_ROOTS: readonly TsaTrustAnchor[] = [];

/** The built-in roots plus those of a PEM bundle. */
export function trustList(pem: string | undefined): TsaTrustAnchor[] {
  return [...BUILT_IN_TSA_ROOTS, ...(pem ? parseTrustBundle(pem) : [])];
}
