import { execFile } from 'node:child_process';
import path from 'node:path';
import type { FaultPoint } from '../../src/apply/fault-points.ts';

/*
 * `ddb-lake apply` in its own process, as a person or a scheduler runs it, optionally killed at a
 * fault point (`DDB_LAKE_FAULT`, src/apply/fault-points.ts).
 */

const ROOT = path.resolve(import.meta.dirname, '../..');

export interface ApplyRun {
  /** Null when the process was killed. */
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `ddb-lake apply --landing … --delta … --table … <args>` with `env` added. */
export function runApply(
  where: { readonly landing: string; readonly delta: string; readonly table: string },
  args: readonly string[] = [],
  options: { readonly fault?: FaultPoint; readonly env?: NodeJS.ProcessEnv } = {},
): Promise<ApplyRun> {
  return new Promise((done) => {
    execFile(
      path.join(ROOT, 'node_modules/.bin/node'),
      [
        path.join(ROOT, 'src/cli/main.ts'),
        'apply',
        '--landing',
        where.landing,
        '--delta',
        where.delta,
        '--table',
        where.table,
        ...args,
      ],
      {
        cwd: ROOT,
        env: { ...process.env, CI: '1', DDB_LAKE_FAULT: options.fault ?? '', ...options.env },
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        done({ code, signal: error?.signal ?? null, stdout, stderr });
      },
    );
  });
}
