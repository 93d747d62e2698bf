import { resolve } from 'node:path';

/** The sample native export (a full and an incremental export of `orders`): test/fixtures/README.md. */
export const SAMPLE_EXPORT = resolve(import.meta.dirname, '../fixtures/export');
