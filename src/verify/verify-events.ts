import type { CapacityTarget } from '../backfill/backfill-table.ts';

/** Codes of the progress events `verifyTable` emits; the library prints nothing itself. */
export const VerifyEventCode = {
  started: 'VERIFY_STARTED',
  lakeProgress: 'VERIFY_LAKE_PROGRESS',
  lakeRead: 'VERIFY_LAKE_READ',
  scanProgress: 'VERIFY_SCAN_PROGRESS',
  scanned: 'VERIFY_SCANNED',
  sampleRead: 'VERIFY_SAMPLE_READ',
  compared: 'VERIFY_COMPARED',
  settling: 'VERIFY_SETTLING',
  settled: 'VERIFY_SETTLED',
  throttled: 'VERIFY_THROTTLED',
} as const;

export type VerifyEvent =
  | {
      readonly code: typeof VerifyEventCode.started;
      readonly table: string;
      readonly delta: string;
      readonly deltaVersion: number;
      readonly totalSegments: number;
      readonly segmentsScanned: number;
      readonly concurrency: number;
      readonly consistentRead: boolean;
      readonly readCapacity: CapacityTarget;
      readonly estimatedItems: number;
    }
  | { readonly code: typeof VerifyEventCode.lakeProgress; readonly rows: number }
  | { readonly code: typeof VerifyEventCode.lakeRead; readonly rows: number; readonly elapsedMs: number }
  | {
      readonly code: typeof VerifyEventCode.scanProgress;
      readonly items: number;
      readonly segmentsDone: number;
      readonly segments: number;
      readonly readUnits: number;
      readonly elapsedMs: number;
    }
  | { readonly code: typeof VerifyEventCode.scanned; readonly items: number; readonly elapsedMs: number }
  | { readonly code: typeof VerifyEventCode.sampleRead; readonly keys: number; readonly found: number }
  | {
      readonly code: typeof VerifyEventCode.compared;
      readonly matched: number;
      readonly missing: number;
      readonly extra: number;
      readonly different: number;
    }
  | { readonly code: typeof VerifyEventCode.settling; readonly keys: number; readonly waitMs: number }
  | { readonly code: typeof VerifyEventCode.settled; readonly rechecked: number; readonly settled: number }
  | {
      readonly code: typeof VerifyEventCode.throttled;
      readonly segment: number;
      readonly delayMs: number;
      readonly unitsPerSecond: number;
      readonly error: string;
    };
