import utilDynamodb from '@aws-sdk/util-dynamodb';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkBase64, compareBase64Bytes } from '../../src/dynamo/base64.ts';
import { parseAttributeValue, parseItem } from '../../src/dynamo/parse.ts';
import { itemToPlainJson, valueToPlainJson } from '../../src/dynamo/plain-json.ts';
import { fromSdkItem, toSdkItem } from '../../src/dynamo/sdk-interop.ts';
import { itemModel, valueModel } from './arbitraries.ts';
import {
  expectedMapPlain,
  expectedPlain,
  type Model,
  mapToDynamoJson,
  nativeToPlain,
  toDynamoJson,
  toSdk,
} from './reference.ts';

// A CommonJS package whose named exports Node cannot detect: take them from the default export.
const { unmarshall } = utilDynamodb;

const RUNS = 500;

function sdkItem(entries: readonly (readonly [string, Model])[]) {
  return Object.fromEntries(entries.map(([name, value]) => [name, toSdk(value)]));
}

describe('DynamoDB JSON round trip', () => {
  it('JSON text → parseItem → plain JSON gives exactly the reference text, for every type', () => {
    fc.assert(
      fc.property(itemModel, (entries) => {
        const text = JSON.stringify({ Item: mapToDynamoJson(entries) });
        const item = parseItem((JSON.parse(text) as { Item: unknown }).Item, 'Item');
        expect(itemToPlainJson(item)).toBe(expectedMapPlain(entries));
      }),
      { numRuns: RUNS },
    );
  });

  it('a single value round-trips the same way', () => {
    fc.assert(
      fc.property(valueModel, (model) => {
        const value = parseAttributeValue(JSON.parse(JSON.stringify(toDynamoJson(model))), 'v');
        expect(valueToPlainJson(value)).toBe(expectedPlain(model));
      }),
      { numRuns: RUNS },
    );
  });

  it('normalizing is idempotent and never modifies its input', () => {
    fc.assert(
      fc.property(itemModel, (entries) => {
        const json = JSON.parse(JSON.stringify(mapToDynamoJson(entries)));
        const before = JSON.stringify(json);
        const once = parseItem(json);
        expect(JSON.stringify(json)).toBe(before);
        expect(parseItem(once)).toBe(once);
        const reread = parseItem(JSON.parse(JSON.stringify(once)));
        expect(reread).toEqual(once);
        expect(parseItem(reread)).toBe(reread);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('agreement with @aws-sdk/util-dynamodb', () => {
  it('unmarshall(…, { wrapNumbers: true }) of the same item gives the same plain form', () => {
    fc.assert(
      fc.property(itemModel, (entries) => {
        const ours = itemToPlainJson(parseItem(JSON.parse(JSON.stringify(mapToDynamoJson(entries)))));
        const theirs = nativeToPlain(unmarshall(sdkItem(entries), { wrapNumbers: true }));
        expect(ours).toBe(theirs);
      }),
      { numRuns: RUNS },
    );
  });

  it('items converted with toSdkItem unmarshall to the same plain form, and convert back unchanged', () => {
    fc.assert(
      fc.property(itemModel, (entries) => {
        const item = parseItem(JSON.parse(JSON.stringify(mapToDynamoJson(entries))));
        const sdk = toSdkItem(item);
        expect(nativeToPlain(unmarshall(sdk, { wrapNumbers: true }))).toBe(itemToPlainJson(item));
        expect(fromSdkItem(sdk)).toEqual(item);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('base64', () => {
  it('keeps canonical base64 as is and orders texts as their bytes order', () => {
    const bytes = fc.uint8Array({ maxLength: 10 });
    fc.assert(
      fc.property(bytes, bytes, (a, b) => {
        const textA = Buffer.from(a).toString('base64');
        const textB = Buffer.from(b).toString('base64');
        expect(checkBase64(textA)).toBe(textA);
        expect(compareBase64Bytes(textA, textB)).toBe(Buffer.compare(Buffer.from(a), Buffer.from(b)));
      }),
      { numRuns: 2000 },
    );
  });

  it('clears stray bits in the last character to the canonical text of the same bytes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 10 }),
        fc.integer({ min: 1, max: 15 }),
        (raw, bits) => {
          const text = Buffer.from(raw).toString('base64');
          const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
          fc.pre(padding > 0);
          const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
          const at = text.length - padding - 1;
          const sextet = alphabet.indexOf(text[at] as string) | (bits & (padding === 1 ? 0b11 : 0b1111));
          const stray = text.slice(0, at) + alphabet[sextet] + text.slice(at + 1);
          expect(checkBase64(stray)).toBe(text);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
