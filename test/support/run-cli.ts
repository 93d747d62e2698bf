import { type ChildProcess, execFile, spawn } from 'node:child_process';
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

/** A `ddb-lake` process started by `startDdbLake`, and how it ended. */
export interface RunningDdbLake {
  readonly child: ChildProcess;
  /** What it printed so far. */
  output(): { readonly stdout: string; readonly stderr: string };
  /** Resolves when it has ended: its exit code, or the signal that ended it, and what it printed. */
  readonly exited: Promise<CliRun & { readonly signal: NodeJS.Signals | null; readonly endedAt: number }>;
}

/** Starts `ddb-lake` in its own Node 22 process, for tests that signal it or time it. */
export function startDdbLake(args: readonly string[], env: NodeJS.ProcessEnv = {}): RunningDdbLake {
  const child = spawn(resolve(ROOT, 'node_modules/.bin/node'), [resolve(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, CI: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<CliRun & { signal: NodeJS.Signals | null; endedAt: number }>((done) =>
    child.on('close', (code, signal) =>
      done({ code: code ?? -1, signal, stdout, stderr, endedAt: Date.now() }),
    ),
  );
  return { child, output: () => ({ stdout, stderr }), exited };
}
