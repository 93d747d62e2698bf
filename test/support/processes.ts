import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repositoryRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Whether a process with this id still runs. A zombie (exited, waiting for its parent to collect
 * its status) counts as gone: it holds no port, memory or files any more.
 */
export function isProcessRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  const stat = readProcFile(pid, 'stat');
  if (stat === undefined) return true;
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z';
}

/** Resolves true once the process is gone, false if it still runs after `timeoutMs`. */
export async function waitForProcessExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isProcessRunning(pid)) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

/** The process's command line (arguments joined by spaces), or undefined where /proc is missing. */
export function commandLineOf(pid: number): string | undefined {
  return readProcFile(pid, 'cmdline')?.split('\0').join(' ').trim();
}

/** Ids of running processes whose command line contains `text` (Linux: read from /proc). */
export function processesMatching(text: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => commandLineOf(pid)?.includes(text) && isProcessRunning(pid));
}

function readProcFile(pid: number, name: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${name}`, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * A Node that runs .ts files (22.6 or later): this one if it can, else the project's own
 * (node_modules/.bin/node), as `node_modules/.bin/vitest` may run under an older system Node.
 */
export function typeScriptNode(): string {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  if (major > 22 || (major === 22 && minor >= 6)) return process.execPath;
  const local = join(repositoryRoot, 'node_modules', '.bin', 'node');
  if (!existsSync(local))
    throw new Error(`Node ${process.versions.node} cannot run .ts files and ${local} is missing`);
  return local;
}
