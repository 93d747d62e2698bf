/**
 * The one error base of ddb-lake. Every error carries a stable `code` (for programs and `--json`)
 * and a message that says what happened, where, and what to do next. Each part of the system has
 * its own subclasses next to its code.
 */
export class DdbLakeError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A command-line usage mistake: a missing or malformed flag. The CLI exits with code 2. */
export class UsageError extends DdbLakeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('USAGE', message, options);
  }
}
