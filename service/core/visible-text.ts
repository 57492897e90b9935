/**
 * Characters that print as nothing or as something else: controls (a terminal's escape
 * sequences, line breaks), format characters (bidirectional overrides, zero-width ones),
 * private-use and unassigned code points, line and paragraph separators.
 */
export const INVISIBLE_CHARACTER = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/u;

/** A code point as a reader sees it written out: `[U+001B]`. */
export function codePointLabel(char: string): string {
  return `[U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}]`;
}

/**
 * Text from a certificate (a file name, a title, an issuer's name) as it may be shown: every
 * invisible character written as [U+XXXX], so that none can clear a terminal, draw a false
 * verdict, start a new line or reorder what is shown. The certificate document writes them
 * the same way.
 */
export function visibleText(text: string): string {
  return text.replace(INVISIBLE_GLOBAL, codePointLabel);
}

const INVISIBLE_GLOBAL = new RegExp(INVISIBLE_CHARACTER.source, "gu");
