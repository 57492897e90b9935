/**
 * The RFC 3161 protocol pieces that the TSA client and the development TSA share: media
 * types, PKIStatus values and PKIFailureInfo bits, and the DER encodings that pkijs leaves to
 * its caller.
 */
import * as asn1js from "asn1js";

/** RFC 3161 §4 (HTTP transport). */
export const TIMESTAMP_QUERY = "application/timestamp-query";
export const TIMESTAMP_REPLY = "application/timestamp-reply";

/** RFC 3161 §2.4.2 PKIStatus. */
export const PKI_STATUS = {
  granted: 0,
  grantedWithMods: 1,
  rejection: 2,
  waiting: 3,
  revocationWarning: 4,
  revocationNotification: 5,
} as const;

/** RFC 3161 §2.4.2 PKIFailureInfo: bit numbers of the named bits. */
export const PKI_FAILURE_INFO = {
  badAlg: 0,
  badRequest: 2,
  badDataFormat: 5,
  timeNotAvailable: 14,
  unacceptedPolicy: 15,
  unacceptedExtension: 16,
  addInfoNotAvailable: 17,
  systemFailure: 25,
} as const;

export type PkiFailure = keyof typeof PKI_FAILURE_INFO;

/** A PKIFailureInfo with one bit set, DER: a named bit list keeps no trailing zero bits (X.690 §11.2.2). */
export function failureInfoBits(failure: PkiFailure): asn1js.BitString {
  const bit = PKI_FAILURE_INFO[failure];
  const bytes = new Uint8Array((bit >> 3) + 1);
  bytes[bit >> 3] = 0x80 >> (bit & 7);
  return new asn1js.BitString({ valueHex: bytes, unusedBits: 7 - (bit & 7) });
}

/** The names of the bits set in a PKIFailureInfo. */
export function failureNames(bits: asn1js.BitString | undefined): PkiFailure[] {
  if (!bits) return [];
  const bytes = bits.valueBlock.valueHexView;
  return (Object.keys(PKI_FAILURE_INFO) as PkiFailure[]).filter((name) => {
    const bit = PKI_FAILURE_INFO[name];
    return ((bytes[bit >> 3] ?? 0) & (0x80 >> (bit & 7))) !== 0;
  });
}

/**
 * A positive INTEGER of `bytes` random bytes with a minimal DER encoding: the first byte
 * is in 0x01..0x7f, so there is no sign byte and no leading zero.
 */
export function randomPositiveInteger(bytes: number): asn1js.Integer {
  const value = globalThis.crypto.getRandomValues(new Uint8Array(bytes));
  value[0] = value[0]! & 0x7f || 0x01;
  return new asn1js.Integer({ valueHex: value });
}
