import type { Stamper } from "../anchoring/anchorer.ts";
import type { TimestampToken } from "../core/index.ts";
import {
  parseTimestampToken,
  timestampTokenFromBase64,
  timestampTokenToBase64,
  verifyTimestampToken,
  type TsaTrustAnchor,
} from "../core/timestamp.ts";
import type { DevelopmentTsa } from "./development-tsa.ts";
import { requestTimestamp } from "./tsa-client.ts";

/** One time-stamp authority: a name for messages, and how to ask it for a token on 32 bytes. */
export interface TsaSource {
  name: string;
  stamp(data32: Uint8Array): Promise<Uint8Array>;
}

/** A TSA over HTTP (RFC 3161 §3.4), with the client's timeout and retries. */
export function httpTsa(url: string, timeoutMs: number): TsaSource {
  return { name: url, stamp: (data) => requestTimestamp(url, data, { timeoutMs, retries: 1, backoffMs: 500 }) };
}

/** The embedded development TSA, asked in process. */
export function developmentTsa(tsa: DevelopmentTsa): TsaSource {
  return { name: "development TSA", stamp: (data) => tsa.stamp(data) };
}

/**
 * Asks every configured TSA for a token on a root, keeping the ones it lacks. A token is
 * kept only if it stamps that root and its signature holds; a TSA not on the trust list is
 * still kept (the operator chose it), since a verifier's own list decides trust. A TSA that
 * does not answer is reported, never waited for beyond its timeout.
 */
export class TsaStamper implements Stamper {
  readonly configured: number;
  readonly required: boolean;
  readonly #sources: TsaSource[];
  readonly #trust: TsaTrustAnchor[];
  /** Each source's signer, once it has answered: how a batch's tokens are matched to their TSA. */
  readonly #signers = new Map<TsaSource, string>();

  constructor(sources: TsaSource[], options: { required: boolean; trust: TsaTrustAnchor[] }) {
    this.#sources = sources;
    this.configured = sources.length;
    this.required = options.required;
    this.#trust = options.trust;
  }

  async stamp(
    root: Uint8Array,
    have: readonly TimestampToken[],
  ): Promise<{ tokens: TimestampToken[]; errors: string[] }> {
    const present = new Set(have.map((t) => signerOf(timestampTokenFromBase64(t.token))));
    const wanted = this.#sources.filter((s) => !present.has(this.#signers.get(s) ?? "\u0000unknown"));
    const tokens: TimestampToken[] = [];
    const errors: string[] = [];
    await Promise.all(
      wanted.map(async (source) => {
        try {
          const der = await source.stamp(root);
          const checked = await verifyTimestampToken(der, root, this.#trust);
          if (checked.status === "failed") throw new Error(`its token does not hold (${checked.detail.code})`);
          const signer = signerOf(der);
          this.#signers.set(source, signer);
          if (present.has(signer)) return;
          present.add(signer);
          tokens.push({ type: "rfc3161", token: timestampTokenToBase64(der) });
        } catch (e) {
          errors.push(`${source.name}: ${(e as Error).message}`);
        }
      }),
    );
    return { tokens, errors };
  }
}

/** Who signed a token: its signer certificate's issuer and serial number. */
function signerOf(der: Uint8Array): string {
  try {
    const info = parseTimestampToken(der);
    return `${info.signer?.issuer ?? ""}/${info.signer?.serialNumber ?? ""}`;
  } catch {
    return "";
  }
}
