/**
 * The `evidence` command's exit statuses (documented in its help and the README):
 * 0 success, or a valid certificate; 1 an invalid certificate, or a request the service
 * refused; 2 a usage mistake; 3 could not verify (a node unreachable, of another chain,
 * behind); 4 the service could not be reached; 74 the output could not be written (a full disk:
 * never 1, which would say "invalid"; sysexits' EX_IOERR); 141 the output's reader went away (`| head`),
 * the status of other tools ended by SIGPIPE.
 */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  indeterminate: 3,
  unreachable: 4,
  outputFailed: 74,
  outputClosed: 141,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * A mistake in how a command was called: exit 2 with the command's usage. `zh` says it in
 * Chinese, for a reader whose language is Chinese; without it the English is shown to all.
 */
export class UsageError extends Error {
  override name = "UsageError";
  readonly zh: string | undefined;

  constructor(message: string, zh?: string) {
    super(message);
    this.zh = zh;
  }
}

/** The service could not be reached at all (refused, timed out, no such host): exit 4. */
export class UnreachableError extends Error {
  override name = "UnreachableError";
}
