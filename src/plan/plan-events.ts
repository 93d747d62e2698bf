/** Stable codes of the events `planTable` reports while it works. */
export const PlanEventCode = {
  /** DescribeTable and DescribeContinuousBackups answered. */
  tableDescribed: 'PLAN_TABLE_DESCRIBED',
  /** The change files and gap records were read: the handoff check has its answer. */
  handoffChecked: 'PLAN_HANDOFF_CHECKED',
  /** Capture's checkpoints and quarantine were read. */
  captureStateRead: 'PLAN_CAPTURE_STATE_READ',
  /** The report was written to the landing area (or the write was refused). */
  reportWritten: 'PLAN_REPORT_WRITTEN',
} as const;

/** An event of `planTable`. The library never prints; the CLI renders these. */
export type PlanEvent =
  | { readonly code: typeof PlanEventCode.tableDescribed; readonly table: string; readonly status: string }
  | {
      readonly code: typeof PlanEventCode.handoffChecked;
      readonly ok: boolean;
      readonly filesListed: number;
      readonly firstRecordsRead: number;
    }
  | {
      readonly code: typeof PlanEventCode.captureStateRead;
      readonly checkpoints: number;
      readonly quarantined: number;
    }
  | { readonly code: typeof PlanEventCode.reportWritten; readonly key: string; readonly ok: boolean };
