/** The exit codes of every `ddb-lake` command, listed in `--help`. */
export const EXIT_CODES = {
  /** The command did what it was asked. */
  OK: 0,
  /** It failed: the message on stderr says why and what to do. */
  FAILED: 1,
  /** The command line was wrong: a missing or malformed flag. */
  USAGE: 2,
  /** Input data was bad (a malformed line, a checksum mismatch): nothing was lost, see the report. */
  BAD_INPUT: 3,
  /** `plan`: a prerequisite is missing (stream, capture, point-in-time recovery, …): see the report. */
  NOT_READY: 4,
  /** `status`: something is behind or stuck and needs a person; each problem line says what to run. */
  NEEDS_ATTENTION: 5,
  /** Interrupted by SIGINT (Ctrl-C) before it finished: 128 + 2, as a shell reports it. */
  INTERRUPTED: 130,
  /** Terminated by SIGTERM before it finished: 128 + 15, as a shell reports it. */
  TERMINATED: 143,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

export const EXIT_CODES_HELP = `Exit codes:
  0  success
  1  failure (the message says why and what to do next)
  2  usage error (a missing or malformed flag)
  3  bad input data found (malformed lines, checksum mismatches); nothing was dropped silently
  4  not ready (plan): a prerequisite is missing; the report says what and what to do
  5  needs attention (status): something is behind or stuck; each problem says what to run
  130  interrupted by SIGINT (Ctrl-C) before it finished
  143  terminated by SIGTERM before it finished
       A long command (capture, backfill, apply --until-idle) first stops at a safe point: requests
       in flight are cancelled, checkpoints written; run it again to resume. A second signal ends it
       at once. Commands that run until stopped (capture without --until-idle, apply --every, local)
       end as their result says on the first signal.`;
