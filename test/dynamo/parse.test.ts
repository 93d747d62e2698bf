import { describe, expect, it } from 'vitest';
import { InvalidAttributeValueError } from '../../src/dynamo/errors.ts';
import { MAX_NESTING_LEVELS, parseAttributeValue, parseItem } from '../../src/dynamo/parse.ts';

/** The error parseItem throws for `json`, checked to be an InvalidAttributeValueError. */
function itemError(json: unknown, path?: string): InvalidAttributeValueError {
  try {
    parseItem(json, path);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidAttributeValueError);
    return error as InvalidAttributeValueError;
  }
  throw new Error(`parseItem accepted ${JSON.stringify(json)}`);
}

/** The part of a JSON value at `path` (keys and indexes), for identity checks. */
function at(json: unknown, ...path: (string | number)[]): unknown {
  let current = json;
  for (const step of path) current = (current as Record<string | number, unknown>)[step];
  return current;
}

/** Nests `inner` in `levels` maps (`{M: {a: …}}`) or lists. */
function nest(kind: 'M' | 'L', levels: number, inner: unknown): unknown {
  let value = inner;
  for (let i = 0; i < levels; i++) value = kind === 'M' ? { M: { a: value } } : { L: [value] };
  return value;
}

describe('parseItem accepts every DynamoDB type', () => {
  const item = JSON.parse(
    '{"s":{"S":"x"},"empty":{"S":""},"n":{"N":"-12.5"},"b":{"B":"3q2+7w=="},"noBytes":{"B":""},' +
      '"t":{"BOOL":true},"f":{"BOOL":false},"z":{"NULL":true},"ss":{"SS":["a",""]},"ns":{"NS":["1","2.5"]},' +
      '"bs":{"BS":["AAE=","/w=="]},"l":{"L":[{"S":"x"},{"L":[]}]},"m":{"M":{"k":{"M":{}}}}}',
  );

  it('returns the very object it was given when everything is already canonical', () => {
    expect(parseItem(item)).toBe(item);
    expect(parseAttributeValue(item.l, 'l')).toBe(item.l);
    expect(parseItem({})).toEqual({});
  });
});

describe('parseItem normalizes what DynamoDB normalizes', () => {
  it('rewrites numbers to canonical text, copying only the containers on the way', () => {
    const json = JSON.parse(
      '{"a":{"S":"kept"},"lines":{"L":[{"M":{"sku":{"S":"A-1"},"price":{"N":"9.990"}}},{"M":{"sku":{"S":"B"}}}]}}',
    );
    const before = JSON.stringify(json);
    const parsed = parseItem(json);
    expect(at(parsed, 'lines', 'L', 0, 'M', 'price')).toEqual({ N: '9.99' });
    expect(JSON.stringify(json)).toBe(before);
    expect(parsed).not.toBe(json);
    expect(parsed.a).toBe(json.a);
    expect(at(parsed, 'lines', 'L', 1)).toBe(json.lines.L[1]);
    expect(at(parsed, 'lines', 'L', 0, 'M', 'sku')).toBe(json.lines.L[0].M.sku);
    expect(parseItem(parsed)).toBe(parsed);
  });

  it('rewrites set elements to canonical numbers and canonical base64', () => {
    const parsed = parseItem({ ns: { NS: ['1e2', '-0', '2.50'] }, bs: { BS: ['AB==', 'AAE='] } });
    expect(parsed.ns).toEqual({ NS: ['100', '0', '2.5'] });
    expect(parsed.bs).toEqual({ BS: ['AA==', 'AAE='] });
  });

  it('clears unused bits of the last base64 character, as DynamoDB does', () => {
    expect(parseAttributeValue({ B: 'AB==' }, 'b')).toEqual({ B: 'AA==' });
    expect(parseAttributeValue({ B: '3q2+7x==' }, 'b')).toEqual({ B: '3q2+7w==' });
  });

  it('keeps an attribute called __proto__ as an own attribute through normalization', () => {
    const json = JSON.parse('{"__proto__":{"N":"1.0"},"x":{"M":{"__proto__":{"N":"2.0"}}}}');
    const parsed = parseItem(json);
    expect(Object.keys(parsed)).toEqual(['__proto__', 'x']);
    expect(Object.getOwnPropertyDescriptor(parsed, '__proto__')?.value).toEqual({ N: '1' });
    expect(Object.getOwnPropertyDescriptor(at(parsed, 'x', 'M') as object, '__proto__')?.value).toEqual({
      N: '2',
    });
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
  });
});

describe('parseItem refuses what DynamoDB refuses, naming the attribute path', () => {
  it.each([
    [{ a: { X: '1' } }, 'a', /unknown type tag "X"/],
    [{ a: { s: '1' } }, 'a', /unknown type tag "s"/],
    [{ a: { S: 'x', N: '1' } }, 'a', /more than one type tag \(S, N\)/],
    [{ a: { S: 'x', N: null } }, 'a', /more than one type tag/],
    [{ a: {} }, 'a', /no type tag/],
    [{ a: 'x' }, 'a', /expected an object with one type tag.*got string "x"/],
    [{ a: null }, 'a', /got null/],
    [{ a: [] }, 'a', /got an array/],
    [{ a: { S: 5 } }, 'a', /S must hold a string, got number 5/],
    [{ a: { N: 5 } }, 'a', /N must hold a number as a string, got number 5/],
    [{ a: { N: 'abc' } }, 'a', /N string "abc": not number syntax/],
    [{ a: { N: ' 1' } }, 'a', /not number syntax/],
    [{ a: { N: '123456789012345678901234567890123456789' } }, 'a', /more than 38 significant digits/],
    [{ a: { N: '1E126' } }, 'a', /magnitude larger than/],
    [{ a: { N: '1E-131' } }, 'a', /magnitude smaller than 1E-130/],
    [{ a: { B: 'AAE' } }, 'a', /not padded standard base64/],
    [{ a: { B: '-_8=' } }, 'a', /not padded standard base64/],
    [{ a: { B: 'AAAA\nAAAA' } }, 'a', /not padded standard base64/],
    [{ a: { B: 'A===' } }, 'a', /not padded standard base64/],
    [{ a: { B: [1] } }, 'a', /B must hold base64 text, got an array/],
    [{ a: { BOOL: 'true' } }, 'a', /BOOL must hold true or false/],
    [{ a: { NULL: false } }, 'a', /NULL must hold exactly true, got boolean false/],
    [{ a: { NULL: 'true' } }, 'a', /NULL must hold exactly true/],
    [{ a: { SS: [] } }, 'a', /SS is empty/],
    [{ a: { SS: 'x' } }, 'a', /SS must hold an array/],
    [{ a: { SS: ['x', null] } }, 'a', /SS element 1 is null, not a string/],
    [{ a: { SS: ['x', 'y', 'x'] } }, 'a', /SS has duplicates: elements 0 string "x" and 2 string "x"/],
    [
      { a: { NS: ['1', '1.0'] } },
      'a',
      /NS has duplicates: elements 0 string "1" and 1 string "1.0" \(equal values\)/,
    ],
    [{ a: { NS: ['0', '-0'] } }, 'a', /NS has duplicates/],
    [{ a: { NS: ['1e2', '5', '100.0'] } }, 'a', /NS has duplicates: elements 0 .* and 2/],
    [{ a: { NS: [1] } }, 'a', /NS element 0 is number 1/],
    [{ a: { NS: ['1', 'x'] } }, 'a', /NS element 1 string "x": not number syntax/],
    [{ a: { NS: [] } }, 'a', /NS is empty/],
    [{ a: { BS: ['AA==', 'AB=='] } }, 'a', /BS has duplicates.*\(equal bytes\)/],
    [{ a: { BS: ['AA='] } }, 'a', /BS element 0 .* is not padded standard base64/],
    [{ a: { L: {} } }, 'a', /L must hold an array, got an object/],
    [{ a: { M: [] } }, 'a', /M must hold an object, got an array/],
    [{ '': { S: 'x' } }, '', /empty attribute name/],
    [{ a: { M: { '': { S: 'x' } } } }, 'a', /empty attribute name/],
  ])('refuses %j at path %j', (json, path, reason) => {
    const error = itemError(json);
    expect(error.path).toBe(path);
    expect(error.reason).toMatch(reason);
    expect(error.code).toBe('INVALID_ATTRIBUTE_VALUE');
    expect(error.message).toContain(path === '' ? 'at the item root' : `at ${path}:`);
    expect(error.message).toContain(error.reason);
  });

  it('finds duplicates in large sets too', () => {
    const elements = Array.from({ length: 40 }, (_, i) => String(i));
    elements.push('3.0');
    const error = itemError({ many: { NS: elements } });
    expect(error.path).toBe('many');
    expect(error.reason).toMatch(/elements 3 string "3" and 40 string "3.0"/);
  });

  it('builds paths through lists and maps, quoting names that need it', () => {
    expect(
      itemError({ lines: { L: [{ M: { price: { N: '1' } } }, { M: { price: { N: '1..0' } } }] } }).path,
    ).toBe('lines[1].price');
    expect(itemError({ meta: { M: { nested: { M: { deep: { L: [{ N: 'x' }] } } } } } }).path).toBe(
      'meta.nested.deep[0]',
    );
    expect(itemError({ meta: { M: { 'unit price': { N: 'x' } } } }).path).toBe('meta["unit price"]');
    expect(itemError({ 'pk#1': { S: 1 } }).path).toBe('["pk#1"]');
    expect(itemError({ a: { M: { 'x"y': { L: [{ X: 1 }] } } } }).path).toBe('a["x\\"y"][0]');
    expect(itemError({ total: { N: 'x' } }, 'NewImage').path).toBe('NewImage.total');
  });

  it('says where and why in the message', () => {
    const error = itemError({ lines: { L: [{ M: {} }, { M: { price: { N: '9.9.9' } } }] } });
    expect(error.message).toContain('lines[1].price');
    expect(error.message).toContain('not number syntax');
    expect(itemError('x').message).toMatch(/at the item root: expected an item object/);
  });

  it('reports a bad value given alone under the path it was given', () => {
    expect(() => parseAttributeValue({ L: [{ S: 'x' }, { NS: [] }] }, 'meta.list')).toThrow(
      expect.objectContaining({ path: 'meta.list[1]', reason: expect.stringMatching(/NS is empty/) }),
    );
  });
});

describe('nesting limit', () => {
  it('allows 31 maps or lists inside one top-level attribute, counting the item as level 1', () => {
    expect(MAX_NESTING_LEVELS).toBe(32);
    expect(() => parseItem({ a: nest('M', 31, { S: 'x' }) })).not.toThrow();
    expect(() => parseItem({ a: nest('L', 30, { L: [] }) })).not.toThrow();
    expect(() => parseItem({ a: nest('M', 31, { NS: ['1'] }) })).not.toThrow();
  });

  it('refuses a 32nd level and names the path of the container too deep', () => {
    const error = itemError({ a: nest('L', 31, { L: [] }) });
    expect(error.reason).toMatch(/deeper than DynamoDB's 32 levels/);
    expect(error.path).toBe(`a${'[0]'.repeat(31)}`);
    expect(itemError({ a: nest('M', 32, { S: 'x' }) }).path).toBe(`a${'.a'.repeat(31)}`);
  });
});
