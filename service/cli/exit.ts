/** Exit codes: 0 success or valid, 1 invalid or failed, 2 usage. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A mistake in how a command was called: exit 2 with the command's usage. */
export class UsageError extends Error {
  override name = "UsageError";
}
