import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureBatch } from '../../src/capture/capture-batch.ts';
import type { CaptureLogEntry } from '../../src/capture/capture-log.ts';
import { CaptureWriteError } from '../../src/capture/errors.ts';
import { CHANGES_FOLDER } from '../../src/formats/change-file-key.ts';
import { readChangeFile } from '../../src/formats/change-file-reader.ts';
import { FaultyStore } from './support-faulty-store.ts';
import { runScenario, type Scenario } from './support-scenario.ts';
import { alteredRecord, keysUnder, tempLanding } from './support-stream.ts';

const QUARANTINE = '_ddb_lake/quarantine/';

describe('captureBatch when the landing area fails writes', () => {
  let scenario: Scenario;

  beforeAll(async () => {
    scenario = await runScenario('NEW_AND_OLD_IMAGES');
  });
  afterAll(async () => {
    await scenario?.table.drop();
  });

  it('a failed change-file put returns the first SequenceNumber of the batch, and the retry writes it', async () => {
    const { store } = await tempLanding();
    const faulty = FaultyStore.failingPutsUnder(store, CHANGES_FOLDER);
    const entries: CaptureLogEntry[] = [];
    const failed = await captureBatch(scenario.event, { store: faulty, log: (entry) => entries.push(entry) });

    const firstSeq = scenario.event.Records[0]!.dynamodb!.SequenceNumber!;
    expect(failed.batchItemFailures).toEqual([{ itemIdentifier: firstSeq }]);
    expect(failed.files).toEqual([]);
    expect(faulty.failedWrites).toHaveLength(1);
    expect(await keysUnder(store, '')).toEqual([]);
    expect(entries.find((entry) => entry.event === 'write-failed')).toMatchObject({
      level: 'error',
      key: faulty.failedWrites[0],
      records: scenario.event.Records.length,
      error: { code: 'INJECTED_FAULT' },
    });
    expect(entries.at(-1)).toMatchObject({ event: 'batch-captured', level: 'error', retryFrom: firstSeq });

    // Lambda retries from that SequenceNumber, which is the whole batch: same key, now written.
    const retried = await captureBatch(scenario.event, { store });
    expect(retried.batchItemFailures).toEqual([]);
    expect(retried.files.map((file) => file.key)).toEqual(faulty.failedWrites);
    let lines = 0;
    for await (const _ of readChangeFile(store, retried.files[0]!.key)) lines++;
    expect(lines).toBe(scenario.event.Records.length);
  });

  it('when the first record went to quarantine, a failed change file retries from the first record it held', async () => {
    const { store } = await tempLanding();
    const records = scenario.event.Records;
    const damagedFirst = alteredRecord(records[0]!, (copy) => {
      copy.dynamodb!.Keys = {};
    });
    const faulty = FaultyStore.failingPutsUnder(store, CHANGES_FOLDER);
    const result = await captureBatch({ Records: [damagedFirst, ...records.slice(1)] }, { store: faulty });

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: records[1]!.dynamodb!.SequenceNumber }]);
    expect(result.quarantined.map((entry) => entry.seq)).toEqual([records[0]!.dynamodb!.SequenceNumber]);
    expect(await keysUnder(store, '')).toEqual(result.quarantined.map((entry) => entry.key));
  });

  it('a failed quarantine put leaves the change file unwritten (apply must never see it without the hole) and retries from the first record', async () => {
    const { store } = await tempLanding();
    const records = scenario.event.Records;
    const bad = alteredRecord(records[5]!, (copy) => {
      copy.dynamodb!.NewImage!['qty'] = { N: '1e999' };
    });
    const faulty = FaultyStore.failingPutsUnder(store, QUARANTINE);
    const result = await captureBatch(
      { Records: records.map((record, index) => (index === 5 ? bad : record)) },
      { store: faulty },
    );

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: records[0]!.dynamodb!.SequenceNumber }]);
    expect(result.quarantined).toEqual([]);
    expect(result.files).toEqual([]);
    expect(await keysUnder(store, '')).toEqual([]);

    // Lambda's retry from there writes both, the quarantine object first.
    const retried = await captureBatch(
      { Records: records.map((record, index) => (index === 5 ? bad : record)) },
      { store },
    );
    expect(retried.batchItemFailures).toEqual([]);
    expect(await keysUnder(store, '')).toEqual([retried.files[0]!.key, retried.quarantined[0]!.key].sort());
  });

  it('a failed put with no SequenceNumber at or before it fails the whole batch by name', async () => {
    const { store } = await tempLanding();
    const records = scenario.event.Records;
    const noSeq = alteredRecord(records[0]!, (copy) => {
      delete copy.dynamodb!.SequenceNumber;
    });
    const faulty = FaultyStore.failingPutsUnder(store, QUARANTINE);
    const entries: CaptureLogEntry[] = [];
    const capture = captureBatch(
      { Records: [noSeq, ...records.slice(1)] },
      { store: faulty, log: (entry) => entries.push(entry) },
    );
    await expect(capture).rejects.toThrow(CaptureWriteError);
    await expect(capture).rejects.toMatchObject({
      code: 'CAPTURE_WRITE_FAILED',
      key: faulty.failedWrites[0],
    });
    expect(entries.at(-1)).toMatchObject({ event: 'batch-failed', error: { code: 'CAPTURE_WRITE_FAILED' } });
  });
});
