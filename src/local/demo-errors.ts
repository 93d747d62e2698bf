import { DdbLakeError } from '../errors.ts';

/** Stable codes of the demo's own errors, for programs and `--json` output. */
export const DemoErrorCode = {
  /** Capture recorded a gap in the stream: changes may be lost, so no comparison can pass. */
  captureGap: 'DEMO_CAPTURE_GAP',
  /** The captured changes did not cover the handoff in time. */
  handoffTimeout: 'DEMO_HANDOFF_TIMEOUT',
  /** The Scan export stopped before it was complete. */
  scanStopped: 'DEMO_SCAN_STOPPED',
  /** An apply batch did not apply (another writer, or nothing to apply where changes were expected). */
  applyOutcome: 'DEMO_APPLY_OUTCOME',
  /** A run option is out of range. */
  invalidOption: 'DEMO_INVALID_OPTION',
} as const;

export type DemoErrorCode = (typeof DemoErrorCode)[keyof typeof DemoErrorCode];

/** An error of the demo's orchestration (the parts it runs throw their own). */
export class DemoError extends DdbLakeError {
  declare readonly code: DemoErrorCode;

  constructor(code: DemoErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
