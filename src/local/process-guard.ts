import { readFileSync } from 'node:fs';

// Child processes of ours that must end with us: the exit and signal hooks that stop them, and
// the small process checks their stop() needs.

/** Sends `signal` to `pid`, if positive; a process already gone is not an error. */
export function signalProcess(pid: number, signal: NodeJS.Signals): void {
  if (pid <= 0) return;
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/** Whether a process with this id still runs. A zombie has exited: only its table entry is left. */
export function isProcessRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** Resolves true once `pid` is gone, false if it still runs after `timeoutMs`. */
export async function waitUntilProcessGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isProcessRunning(pid)) {
    if (Date.now() >= deadline) return false;
    await delay(25);
  }
  return true;
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolveDelay) => setTimeout(resolveDelay, ms));
}

/** A child process that must not outlive ours. */
export interface GuardedProcess {
  /** Called on `exit`, where nothing asynchronous runs: send the signal that starts its shutdown. */
  terminateNow(): void;
  /** Stops it and resolves once it has exited. Idempotent. */
  stop(): Promise<void>;
}

// Processes not yet stopped, and the process hooks that stop them.
const running = new Set<GuardedProcess>();
let hooksInstalled = false;

/**
 * Stops `child` when our process exits (`terminateNow`, synchronously) or gets SIGINT/SIGTERM
 * (`stop`, awaited; the signal is then raised again when no other listener handles it, so the exit
 * status still tells how the process ended). The hooks are installed while anything is guarded.
 */
export function guardChildProcess(child: GuardedProcess): void {
  running.add(child);
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', onExit);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/** Ends the guard of a process that has been stopped. Idempotent. */
export function releaseChildProcess(child: GuardedProcess): void {
  running.delete(child);
  if (running.size === 0) removeHooks();
}

function removeHooks(): void {
  if (!hooksInstalled) return;
  hooksInstalled = false;
  process.off('exit', onExit);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
}

function onExit(): void {
  for (const guarded of running) guarded.terminateNow();
}

function onSignal(signal: NodeJS.Signals): void {
  removeHooks();
  process.once('exit', onExit);
  void Promise.allSettled([...running].map((guarded) => guarded.stop())).then(() => {
    process.off('exit', onExit);
    // Our listener replaced the default action (exit with the signal); restore it when nobody else
    // handles the signal, so that the exit status still tells how the process ended.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  });
}
