import { execFile } from 'node:child_process';
import { resolve } from 'node:path';

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const ROOT = resolve(import.meta.dirname, '../..');

/** Runs `ddb-lake` as a user would, in its own Node 22 process, and collects what it printed. */
export function runDdbLake(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return new Promise((done) => {
    execFile(
      resolve(ROOT, 'node_modules/.bin/node'),
      [resolve(ROOT, 'src/cli/main.ts'), ...args],
      { cwd: ROOT, env: { ...process.env, CI: '1', ...env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        done({ code, stdout, stderr });
      },
    );
  });
}
