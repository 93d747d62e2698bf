/*
 * Runs the Python of src/databricks/python (plain_json.py, key_bucket.py) with the machine's
 * python3: one process for any number of inputs, one line in and one line out per input.
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BUCKET_PYTHON_SOURCE } from '../../../src/databricks/bucket-function.ts';
import { PLAIN_JSON_PYTHON_SOURCE } from '../../../src/databricks/plain-json-function.ts';

const PYTHON = 'python3';
const MINIMUM = [3, 8] as const;

/** What the script answered for one value: its plain JSON text, or the error it raised. */
export type PythonAnswer = { readonly text: string } | { readonly error: string; readonly type: string };

let checked: string | undefined;

/**
 * Checks that python3 (3.8 or later) runs. Throws, never skips: without it the Databricks function
 * body would go untested. Every test calls it, so each one fails with this message (a failing
 * `beforeAll` would only mark them skipped).
 */
export function requirePython3(): void {
  checked ??= pythonProblem();
  if (checked !== '') throw new Error(checked);
}

/** Why `command` cannot run the tests, with what to do about it; '' when it can. */
export function pythonProblem(command: string = PYTHON): string {
  const run = spawnSync(command, ['-c', 'import sys; print("%d %d" % sys.version_info[:2])'], {
    encoding: 'utf8',
  });
  const advice =
    'These tests run the Databricks Python functions (src/databricks/python/*.py) with ' +
    'python3 and cannot be skipped: install Python 3.8 or later (for example `apt-get install python3`) ' +
    'so that `python3` is on the PATH, then run them again.';
  if (run.error !== undefined || run.status !== 0) {
    return `${command} did not run (${run.error?.message ?? run.stderr.trim()}). ${advice}`;
  }
  const [major = 0, minor = 0] = run.stdout.trim().split(' ').map(Number);
  if (major < MINIMUM[0] || (major === MINIMUM[0] && minor < MINIMUM[1])) {
    return `${command} is version ${major}.${minor}. ${advice}`;
  }
  return '';
}

/** Runs `python3 args…` with `input` on stdin; resolves its stdout, rejects on a non-zero exit. */
export function runPython3(args: readonly string[], input: string): Promise<string> {
  requirePython3();
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const stderr = Buffer.concat(err).toString('utf8');
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new Error(`python3 ${args.join(' ')} exited with ${code}: ${stderr}`));
    });
    child.stdin.end(input, 'utf8');
  });
}

/**
 * The answers of plain_json.py for DynamoDB JSON value texts, in order. The texts must be single
 * lines (JSON.stringify output is).
 */
export async function plainJsonInPython(texts: readonly string[]): Promise<PythonAnswer[]> {
  for (const text of texts) {
    if (text.includes('\n')) throw new Error(`a value text spans lines: ${text}`);
  }
  const stdout = await runPython3(
    [fileURLToPath(PLAIN_JSON_PYTHON_SOURCE)],
    texts.map((text) => `${text}\n`).join(''),
  );
  const lines = stdout.split('\n');
  lines.pop();
  if (lines.length !== texts.length) {
    throw new Error(`plain_json.py answered ${lines.length} lines for ${texts.length} values`);
  }
  return lines.map((line) => {
    const answer: unknown = JSON.parse(line);
    return typeof answer === 'string' ? { text: answer } : (answer as PythonAnswer);
  });
}

/** What key_bucket.py answered for one input: the bucket (null for NULL), or the error it raised. */
export type BucketAnswer =
  | { readonly bucket: number | null }
  | { readonly error: string; readonly type: string };

/** The answers of key_bucket.py for [key, buckets] inputs, in order (null standing for NULL). */
export async function bucketInPython(
  inputs: readonly (readonly [string | null, number | null])[],
): Promise<BucketAnswer[]> {
  const stdout = await runPython3(
    [fileURLToPath(BUCKET_PYTHON_SOURCE)],
    inputs.map((input) => `${JSON.stringify(input)}\n`).join(''),
  );
  const lines = stdout.split('\n');
  lines.pop();
  if (lines.length !== inputs.length) {
    throw new Error(`key_bucket.py answered ${lines.length} lines for ${inputs.length} inputs`);
  }
  return lines.map((line) => {
    const answer: unknown = JSON.parse(line);
    return typeof answer === 'number' || answer === null ? { bucket: answer } : (answer as BucketAnswer);
  });
}
