import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { itemFromScanPage } from '../../src/backfill/scan-page-item.ts';
import { InvalidAttributeValueError } from '../../src/dynamo/errors.ts';
import { itemToPlainJson } from '../../src/dynamo/plain-json.ts';
import { fromSdkItem, type SdkItem, toSdkItem } from '../../src/dynamo/sdk-interop.ts';
import { sampleOrders } from '../../src/local/sample-orders.ts';
import { itemModel } from '../dynamo/arbitraries.ts';
import { expectedMapPlain, toSdk } from '../dynamo/reference.ts';

describe('itemFromScanPage', () => {
  it('gives what fromSdkItem gives, for any item (every type, every number spelling, nesting)', () => {
    fc.assert(
      fc.property(itemModel, (entries) => {
        const sdk = () => Object.fromEntries(entries.map(([name, value]) => [name, toSdk(value)])) as SdkItem;
        const ours = itemFromScanPage(sdk());
        expect(ours).toEqual(fromSdkItem(sdk()));
        expect(itemToPlainJson(ours)).toBe(expectedMapPlain(entries));
      }),
      { numRuns: 500 },
    );
  });

  it('gives what fromSdkItem gives for the sample orders', () => {
    for (const item of sampleOrders(300, 3)) {
      expect(itemFromScanPage(toSdkItem(item))).toEqual(fromSdkItem(toSdkItem(item)));
    }
  });

  it('drops members the SDK left undefined', () => {
    const sdk = {
      a: { S: 'x', N: undefined },
      b: { M: { c: { BOOL: true, S: undefined } } },
    } as unknown as SdkItem;
    expect(itemFromScanPage(sdk)).toEqual({ a: { S: 'x' }, b: { M: { c: { BOOL: true } } } });
  });

  it('refuses a binary that is not bytes, naming its attribute path', () => {
    const sdk = { a: { L: [{ M: { blob: { B: 42 } } }] } } as unknown as SdkItem;
    expect(() => itemFromScanPage(sdk)).toThrow(InvalidAttributeValueError);
    expect(() => itemFromScanPage({ a: { L: [{ M: { blob: { B: 42 } } }] } } as unknown as SdkItem)).toThrow(
      /a\[0\]\.blob/,
    );
  });
});
