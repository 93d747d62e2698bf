import type { Writable } from 'node:stream';

/**
 * Where a command writes: results on stdout, progress and errors on stderr. With `--json`, stdout
 * carries exactly one JSON document and nothing else. Progress is only drawn on an interactive
 * terminal outside CI.
 */
export interface Output {
  readonly json: boolean;
  /** True when progress lines may be drawn (stderr is a TTY, not CI, not --json). */
  readonly interactive: boolean;
  /** A line of human-readable result (ignored in --json mode). */
  result(line: string): void;
  /** The machine-readable result (only in --json mode). */
  resultJson(value: unknown): void;
  /** A progress or status line on stderr (suppressed in --json mode unless it is a warning). */
  progress(line: string): void;
  /** A warning or error line on stderr, always shown. */
  warn(line: string): void;
  /** A transient status line, redrawn in place on an interactive terminal; nothing elsewhere. */
  status(line: string): void;
}

/** The output of a real process, or of any pair of streams (tests). */
export function createOutput(options: {
  json: boolean;
  stdout?: Writable & { isTTY?: boolean };
  stderr?: Writable & { isTTY?: boolean };
  env?: NodeJS.ProcessEnv;
}): Output {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const env = options.env ?? process.env;
  const interactive = !options.json && Boolean(stderr.isTTY) && !env['CI'];
  let statusShown = false;
  const clearStatus = () => {
    if (statusShown) stderr.write('\r\x1b[K');
    statusShown = false;
  };
  return {
    json: options.json,
    interactive,
    result(line) {
      clearStatus();
      if (!options.json) stdout.write(`${line}\n`);
    },
    resultJson(value) {
      if (options.json) stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    },
    progress(line) {
      clearStatus();
      if (!options.json) stderr.write(`${line}\n`);
    },
    warn(line) {
      clearStatus();
      stderr.write(`${line}\n`);
    },
    status(line) {
      if (!interactive) return;
      stderr.write(`\r\x1b[K${line}`);
      statusShown = true;
    },
  };
}
