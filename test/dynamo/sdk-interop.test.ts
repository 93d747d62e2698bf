import type { AttributeValue as SdkAttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import type { Item } from '../../src/dynamo/attribute-value.ts';
import { InvalidAttributeValueError } from '../../src/dynamo/errors.ts';
import {
  fromSdkAttributeValue,
  fromSdkItem,
  toSdkAttributeValue,
  toSdkItem,
} from '../../src/dynamo/sdk-interop.ts';

describe('SDK shape', () => {
  const item: Item = {
    pk: { S: 'customer#1' },
    n: { N: '129.95' },
    sig: { B: '3q2+7w==' },
    blobs: { BS: ['AAE=', '/w=='] },
    tags: { SS: ['gift'] },
    scores: { NS: ['1', '-1E-130'] },
    nested: { M: { l: { L: [{ B: '' }, { NULL: true }, { BOOL: false }] } } },
  };

  it('turns base64 into bytes and back', () => {
    const sdk = toSdkItem(item);
    expect(sdk.sig?.B).toBeInstanceOf(Uint8Array);
    expect([...sdk.sig!.B!]).toEqual([0xde, 0xad, 0xbe, 0xef]);
    expect(sdk.blobs!.BS!.map((b) => [...b])).toEqual([[0, 1], [255]]);
    expect(sdk.nested?.M?.l?.L?.[0]?.B).toEqual(new Uint8Array(0));
    expect(sdk.scores?.NS).toEqual(['1', `-0.${'0'.repeat(129)}1`]);
    const back = fromSdkItem(sdk);
    expect(back).toEqual({ ...item, scores: { NS: ['1', `-0.${'0'.repeat(129)}1`] } });
  });

  it('shares nothing with the input', () => {
    const sdk = toSdkItem(item);
    sdk.tags?.SS?.push('changed');
    sdk.nested?.M?.l?.L?.pop();
    expect(item.tags).toEqual({ SS: ['gift'] });
    expect(toSdkItem(item).nested?.M?.l?.L).toHaveLength(3);
  });

  it('reads a Buffer as bytes and ignores members set to undefined', () => {
    const value = { B: Buffer.from([1, 2, 3]), S: undefined } as unknown as SdkAttributeValue;
    expect(fromSdkAttributeValue(value, 'b')).toEqual({ B: 'AQID' });
    const view = new Uint8Array(new Uint8Array([9, 1, 2, 3, 9]).buffer, 1, 3);
    expect(fromSdkAttributeValue({ B: view }, 'b')).toEqual({ B: Buffer.from([1, 2, 3]).toString('base64') });
  });

  it('normalizes numbers coming from the SDK', () => {
    expect(fromSdkItem({ n: { N: '1.50' }, ns: { NS: ['1e1', '2'] } })).toEqual({
      n: { N: '1.5' },
      ns: { NS: ['10', '2'] },
    });
  });

  it('refuses a B that is not bytes, naming the path', () => {
    const bad = { m: { M: { l: { L: [{ S: 'x' }, { B: 'AAE=' }] } } } } as unknown as Record<
      string,
      SdkAttributeValue
    >;
    expect(() => fromSdkItem(bad)).toThrow(InvalidAttributeValueError);
    expect(() => fromSdkItem(bad)).toThrow(/m\.l\[1\]: B must be a Uint8Array/);
    const badSet = { BS: [new Uint8Array(1), 'x'] } as unknown as SdkAttributeValue;
    expect(() => fromSdkAttributeValue(badSet, 'bs')).toThrow(/bs: BS element 1 must be a Uint8Array/);
  });

  it('refuses what parseItem refuses: duplicates, unknown members, bad numbers', () => {
    expect(() => fromSdkItem({ s: { SS: ['a', 'a'] } })).toThrow(/s: SS has duplicates/);
    expect(() => fromSdkItem({ u: { $unknown: ['X', 1] } as SdkAttributeValue })).toThrow(
      /unknown type tag "\$unknown"/,
    );
    expect(() => fromSdkItem({ n: { N: '1E200' } })).toThrow(/n: N string "1E200": magnitude larger/);
    expect(() => fromSdkItem({ bs: { BS: [new Uint8Array([1]), new Uint8Array([1])] } })).toThrow(
      /equal bytes/,
    );
  });

  it('validates values before handing them to the SDK', () => {
    expect(toSdkAttributeValue({ N: '+1.0' })).toEqual({ N: '1' });
    expect(() => toSdkItem({ x: { NS: [] } })).toThrow(/x: NS is empty/);
  });
});
