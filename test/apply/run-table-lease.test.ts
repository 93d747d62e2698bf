import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  acquireTableLease,
  LEASE_FOLDER,
  LeaseHeldError,
  type LeaseRecord,
} from '../../src/apply/table-lease.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';

const folders: string[] = [];
afterAll(async () => {
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

async function tableStore(): Promise<LocalFolderStore> {
  const folder = await mkdtemp(path.join(tmpdir(), 'ddb-lake-lease-'));
  folders.push(folder);
  return new LocalFolderStore(folder);
}

async function leases(store: LocalFolderStore): Promise<LeaseRecord[]> {
  const found: LeaseRecord[] = [];
  for await (const object of store.list(LEASE_FOLDER)) {
    found.push(JSON.parse(new TextDecoder().decode(await store.getBytes(object.key))));
  }
  return found;
}

async function plantLease(store: LocalFolderStore, lease: Partial<LeaseRecord>): Promise<void> {
  const now = Date.now();
  await store.put(
    `${LEASE_FOLDER}${'1'.padStart(20, '0')}.json`,
    JSON.stringify({
      holder: 'someone',
      host: hostname(),
      pid: process.pid,
      acquiredAt: new Date(now).toISOString(),
      expiresAt: new Date(now + 60_000).toISOString(),
      released: false,
      ...lease,
    }),
  );
}

describe('the table lease: one writer at a time', () => {
  it('a held lease refuses a second writer until it is released', async () => {
    const store = await tableStore();
    const first = await acquireTableLease(store);
    const refused = await acquireTableLease(store).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(LeaseHeldError);
    expect((refused as LeaseHeldError).message).toMatch(new RegExp(`process ${process.pid} on `));
    await first.release();
    const second = await acquireTableLease(store);
    await second.release();
    const records = await leases(store);
    expect(records.at(-1)?.released).toBe(true);
  });

  it('a lease past its expiry is taken over', async () => {
    const store = await tableStore();
    await plantLease(store, {
      host: 'another-host',
      pid: 1,
      expiresAt: new Date(Date.now() - 1000).toISOString(),
    });
    const lease = await acquireTableLease(store);
    await lease.release();
  });

  it('a live lease of another host is respected even though its process cannot be checked', async () => {
    const store = await tableStore();
    await plantLease(store, { host: 'another-host', pid: 1 });
    await expect(acquireTableLease(store)).rejects.toBeInstanceOf(LeaseHeldError);
  });

  it('the lease of a process of this host that no longer runs (a killed run) is taken over', async () => {
    const store = await tableStore();
    const gone = spawnSync(process.execPath, ['-e', '0']).pid;
    await plantLease(store, { pid: gone });
    const lease = await acquireTableLease(store);
    await lease.release();
  });

  it('of two writers taking a free lease at once, exactly one gets it', async () => {
    const store = await tableStore();
    const results = await Promise.allSettled([acquireTableLease(store), acquireTableLease(store)]);
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((result) => result.status === 'rejected');
    expect(rejected?.status === 'rejected' && rejected.reason).toBeInstanceOf(LeaseHeldError);
    for (const result of results) if (result.status === 'fulfilled') await result.value.release();
  });
});
