import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { ObjectStore } from '../storage/object-store.ts';
import { ApplyErrorCode, ApplyRunError } from './apply-errors.ts';

/*
 * One writer at a time per table (DESIGN.md rule 5). Spark and Databricks do not honour S3
 * conditional puts from other engines, and two ddb-lake writers should not even try: the writer
 * holds a lease beside the table. Leases are numbered generations, `_ddb_lake/apply/lease/<20
 * digits>.json`, and the newest names the holder; taking the lease is a put-if-absent of the next
 * generation, so of two writers that find the same free lease exactly one gets it. A lease is
 * free when released, expired, or held by a process of this host that no longer runs (a run
 * killed mid-batch is simply run again).
 */

export const LEASE_FOLDER = '_ddb_lake/apply/lease/';
/** How long a lease holds without renewal; a running batch renews it every third of that. */
export const LEASE_TTL_MS = 10 * 60 * 1000;

export interface LeaseRecord {
  readonly holder: string;
  readonly host: string;
  readonly pid: number;
  readonly acquiredAt: string;
  readonly expiresAt: string;
  readonly released: boolean;
}

/** Another writer holds the table's lease: nothing was written. */
export class LeaseHeldError extends ApplyRunError {
  readonly lease: LeaseRecord;

  constructor(tableUrl: string, lease: LeaseRecord) {
    super(
      ApplyErrorCode.leaseHeld,
      `Another writer holds the table at ${tableUrl} (process ${lease.pid} on ${lease.host}, since ${lease.acquiredAt}, until ${lease.expiresAt} unless it renews): one writer at a time per table, so nothing was written. Wait for it to finish, or, if that process is gone for good, run again after ${lease.expiresAt}.`,
    );
    this.lease = lease;
  }
}

function generationKey(generation: number): string {
  return `${LEASE_FOLDER}${String(generation).padStart(20, '0')}.json`;
}

/** The newest lease generation of a table, as read back: the one in force. */
export interface StoredLease {
  readonly generation: number;
  readonly key: string;
  readonly lease: LeaseRecord;
}

/**
 * The newest lease of the table in `store` (the holder, or the last holder when released), or
 * undefined when no writer ever took one. Read-only: for reports such as `ddb-lake status`.
 */
export async function readTableLease(store: ObjectStore): Promise<StoredLease | undefined> {
  return newestLease(store);
}

async function newestLease(store: ObjectStore): Promise<StoredLease | undefined> {
  let newest: { generation: number; key: string } | undefined;
  for await (const object of store.list(LEASE_FOLDER)) {
    const match = /^(\d{20})\.json$/.exec(object.key.slice(LEASE_FOLDER.length));
    if (match) newest = { generation: Number(match[1]), key: object.key };
  }
  if (newest === undefined) return undefined;
  const lease = JSON.parse(new TextDecoder().decode(await store.getBytes(newest.key))) as LeaseRecord;
  return { ...newest, lease };
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function isFree(lease: LeaseRecord, now: number): boolean {
  if (lease.released || Date.parse(lease.expiresAt) <= now) return true;
  return lease.host === hostname() && lease.pid !== process.pid && !processRuns(lease.pid);
}

/** A lease this process holds; `release` in a `finally`. */
export interface TableLease {
  /** Extends the lease by the TTL from now. */
  renew(): Promise<void>;
  /** Gives the lease up. Idempotent. */
  release(): Promise<void>;
}

/**
 * Takes the lease of the table in `store`, renewing it in the background until released.
 * @throws LeaseHeldError when another live writer holds it (nothing written).
 */
export async function acquireTableLease(
  store: ObjectStore,
  options: { readonly ttlMs?: number; readonly now?: () => number } = {},
): Promise<TableLease> {
  const ttlMs = options.ttlMs ?? LEASE_TTL_MS;
  const now = options.now ?? Date.now;
  const current = await newestLease(store);
  if (current !== undefined && !isFree(current.lease, now()))
    throw new LeaseHeldError(store.url, current.lease);
  const generation = (current?.generation ?? 0) + 1;
  const key = generationKey(generation);
  const acquiredAt = new Date(now()).toISOString();
  const holderId = randomUUID();
  const record = (released: boolean): LeaseRecord => ({
    holder: holderId,
    host: hostname(),
    pid: process.pid,
    acquiredAt,
    expiresAt: new Date(now() + ttlMs).toISOString(),
    released,
  });
  const taken = await store.putIfAbsent(key, JSON.stringify(record(false)));
  if (taken.outcome === 'exists') {
    const winner = await newestLease(store);
    throw new LeaseHeldError(store.url, winner?.lease ?? record(false));
  }
  // Older generations only tell history; keep the previous one for whoever looks.
  if (current !== undefined && current.generation > 1)
    await store.delete(generationKey(current.generation - 1));

  let released = false;
  const write = (asReleased: boolean) => store.put(key, JSON.stringify(record(asReleased)));
  const timer = setInterval(() => {
    if (!released) write(false).catch(() => {});
  }, ttlMs / 3);
  timer.unref();
  return {
    renew: () => write(false),
    release: async () => {
      if (released) return;
      released = true;
      clearInterval(timer);
      await write(true);
    },
  };
}
