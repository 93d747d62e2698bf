import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { newDynamoDbClient } from '../support/local-stack.ts';
import { commandLineOf, isProcessRunning, typeScriptNode, waitForProcessExit } from '../support/processes.ts';

const fixture = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'hold-dynamodb-local.ts');

interface Holder {
  readonly child: ChildProcess;
  readonly endpoint: string;
  readonly pid: number;
  readonly wrapperPid: number;
}

const holders: Holder[] = [];

/** A Node process that starts DynamoDB Local and holds it until signalled. */
async function startHolder(): Promise<Holder> {
  const child = spawn(typeScriptNode(), [fixture], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(() => {
      throw new Error(`the holder process exited before DynamoDB Local was ready: ${stderr}`);
    }),
  ])) as [string];
  const holder = { child, ...(JSON.parse(line) as { endpoint: string; pid: number; wrapperPid: number }) };
  holders.push(holder);
  return holder;
}

afterEach(() => {
  // A failed assertion must not leave Java behind either.
  for (const holder of holders.splice(0)) {
    for (const pid of [holder.pid, holder.wrapperPid, holder.child.pid ?? 0]) {
      if (pid > 0 && isProcessRunning(pid)) process.kill(pid, 'SIGKILL');
    }
  }
});

async function expectServing(holder: Holder): Promise<void> {
  expect(commandLineOf(holder.pid)).toContain('DynamoDBLocal.jar');
  const client = newDynamoDbClient(holder.endpoint);
  await expect(client.send(new ListTablesCommand({}))).resolves.toHaveProperty('TableNames');
  client.destroy();
}

describe('DynamoDB Local never outlives the Node process that started it', () => {
  it('a Node process killed with SIGKILL, which runs no handler, leaves no Java process behind', async () => {
    const holder = await startHolder();
    await expectServing(holder);

    const exited = once(holder.child, 'exit');
    holder.child.kill('SIGKILL');
    const [, signal] = await exited;
    expect(signal).toBe('SIGKILL');

    expect(await waitForProcessExit(holder.pid, 15_000)).toBe(true);
    expect(await waitForProcessExit(holder.wrapperPid, 5_000)).toBe(true);
  });

  it('a Node process sent SIGTERM stops Java first and then still ends by SIGTERM', async () => {
    const holder = await startHolder();
    await expectServing(holder);

    const exited = once(holder.child, 'exit');
    holder.child.kill('SIGTERM');
    const [code, signal] = await exited;
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGTERM' });
    // The handler waited for Java before raising the signal again: nothing to poll for.
    expect(isProcessRunning(holder.pid)).toBe(false);
    expect(isProcessRunning(holder.wrapperPid)).toBe(false);
  });

  it('a Node process interrupted with SIGINT stops Java and ends by SIGINT', async () => {
    const holder = await startHolder();

    const exited = once(holder.child, 'exit');
    holder.child.kill('SIGINT');
    const [code, signal] = await exited;
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGINT' });
    expect(isProcessRunning(holder.pid)).toBe(false);
  });
});
