import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureBatch } from '../../src/capture/capture-batch.ts';
import type { CaptureLogEntry } from '../../src/capture/capture-log.ts';
import { UnsupportedStreamViewTypeError } from '../../src/capture/errors.ts';
import { readChangeFile } from '../../src/formats/change-file-reader.ts';
import { runScenario, type Scenario, typedItemText } from './support-scenario.ts';
import { keysUnder, tempLanding } from './support-stream.ts';

describe('stream view types', () => {
  const scenarios: Scenario[] = [];
  afterAll(async () => {
    await Promise.all(scenarios.map((scenario) => scenario.table.drop()));
  });

  for (const viewType of ['KEYS_ONLY', 'OLD_IMAGE'] as const) {
    describe(`a ${viewType} stream`, () => {
      let scenario: Scenario;
      beforeAll(async () => {
        scenario = await runScenario(viewType);
        scenarios.push(scenario);
      });

      it('is refused at the first batch, saying to switch to NEW_AND_OLD_IMAGES or NEW_IMAGE, and nothing is written', async () => {
        const { store } = await tempLanding();
        expect(scenario.event.Records[0]!.dynamodb!.StreamViewType).toBe(viewType);
        const entries: CaptureLogEntry[] = [];
        const capture = captureBatch(scenario.event, { store, log: (entry) => entries.push(entry) });
        await expect(capture).rejects.toThrow(UnsupportedStreamViewTypeError);
        await expect(capture).rejects.toMatchObject({
          code: 'UNSUPPORTED_STREAM_VIEW_TYPE',
          viewType,
          streamArn: scenario.table.streamArn,
        });
        const error = (await capture.catch((caught: unknown) => caught)) as Error;
        expect(error.message).toContain(viewType);
        expect(error.message).toContain(scenario.table.streamArn);
        expect(error.message).toMatch(/switch the stream to NEW_AND_OLD_IMAGES \(or NEW_IMAGE\)/i);
        expect(await keysUnder(store, '')).toEqual([]);
        expect(entries).toMatchObject([
          { event: 'batch-failed', error: { code: 'UNSUPPORTED_STREAM_VIEW_TYPE' } },
        ]);
      });
    });
  }

  describe('a NEW_IMAGE stream', () => {
    let scenario: Scenario;
    beforeAll(async () => {
      scenario = await runScenario('NEW_IMAGE');
      scenarios.push(scenario);
    });

    it('is captured with the new images and old: null on every line', async () => {
      const { store } = await tempLanding();
      const result = await captureBatch(scenario.event, { store });
      expect(result.batchItemFailures).toEqual([]);
      expect(result.quarantined).toEqual([]);
      const lines = [];
      for await (const { record } of readChangeFile(store, result.files[0]!.key)) lines.push(record);
      expect(lines.map((line) => [line.op, typedItemText(line.new), line.old])).toEqual(
        scenario.expected.map((change) => [change.op, typedItemText(change.new), null]),
      );
    });
  });
});
