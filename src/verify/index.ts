/*
 * verify: reconciliation of the DynamoDB table and the lake table (DESIGN.md, Data flow).
 */

export * from './item-hash.ts';
export * from './key-comparison.ts';
export * from './lake-side.ts';
export * from './plain-members.ts';
export * from './segment-sample.ts';
export * from './source-scan.ts';
export * from './source-table.ts';
export * from './verify-errors.ts';
export * from './verify-events.ts';
export * from './verify-report.ts';
export * from './verify-table.ts';
