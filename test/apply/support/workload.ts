import {
  DeleteItemCommand,
  type DynamoDBClient,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  type AttributeValue,
  attributeType,
  type DynamoType,
  type Item,
} from '../../../src/dynamo/attribute-value.ts';
import { bytesToBase64 } from '../../../src/dynamo/base64.ts';
import { itemToPlainJson } from '../../../src/dynamo/plain-json.ts';
import { fromSdkItem, toSdkItem } from '../../../src/dynamo/sdk-interop.ts';
import { randomMap, randomNumber, randomString, randomValue } from './random-values.ts';
import { SeededRandom } from './seeded-random.ts';

/*
 * A seeded random workload against a DynamoDB (Local) table: new items with every attribute type,
 * whole-item replacements, UpdateItem calls that change an attribute's type, remove attributes, add
 * to numbers and number sets and set nested map entries, deletes, re-inserts of deleted keys (by
 * PutItem and by UpdateItem), and attributes that first appear mid-run (`nextPhase`). One operation
 * at a time, each awaited, so the workload's own record of the table is exact; what it is compared
 * with in the end is a fresh Scan, not this record.
 */

export interface KeyAttribute {
  readonly name: string;
  readonly type: 'S' | 'N' | 'B';
}

export interface WorkloadKeySchema {
  readonly partition: KeyAttribute;
  readonly sort?: KeyAttribute;
}

export interface WorkloadOptions {
  readonly client: DynamoDBClient;
  readonly table: string;
  readonly seed: number;
  readonly keySchema: WorkloadKeySchema;
  /** New items stop once this many are live; default 120. */
  readonly maxItems?: number;
}

/** What the workload has done so far. */
export interface WorkloadStats {
  operations: number;
  inserted: number;
  replaced: number;
  updated: number;
  /** Attributes that a write gave a different type from the one they had. */
  typeChanges: number;
  attributesRemoved: number;
  deleted: number;
  reinserted: number;
  /** Attribute names that appeared only after the first phase. */
  attributesIntroduced: number;
}

type Operation = 'insert' | 'replace' | 'update' | 'delete' | 'reinsert';

/** Each attribute's usual value; `drift` has no usual type. */
const HOME: Readonly<Record<string, (random: SeededRandom) => AttributeValue>> = {
  title: (random) => ({ S: randomString(random) }),
  count: (random) => ({ N: String(random.between(-50, 5000)) }),
  amount: (random) => ({ N: `${random.int(100_000)}.${random.digits(2)}` }),
  exact: (random) => ({ N: randomNumber(random) }),
  blob: (random) => randomValue(random, 'B'),
  active: (random) => randomValue(random, 'BOOL'),
  nothing: () => ({ NULL: true }),
  tags: (random) => randomValue(random, 'SS'),
  scores: (random) => randomValue(random, 'NS'),
  blobs: (random) => randomValue(random, 'BS'),
  items: (random) => randomValue(random, 'L'),
  profile: (random) => ({ M: randomMap(random, 2) }),
  drift: (random) => randomValue(random),
};

const KEY_SPACE = { partitions: 60, sorts: 4 } as const;

export class Workload {
  readonly stats: WorkloadStats = {
    operations: 0,
    inserted: 0,
    replaced: 0,
    updated: 0,
    typeChanges: 0,
    attributesRemoved: 0,
    deleted: 0,
    reinserted: 0,
    attributesIntroduced: 0,
  };
  readonly #options: WorkloadOptions;
  readonly #random: SeededRandom;
  readonly #live = new Map<string, Item>();
  readonly #deleted = new Map<string, Item>();
  readonly #attributes: Map<string, (random: SeededRandom) => AttributeValue> = new Map(Object.entries(HOME));
  #phase = 0;
  /** Keys live when the current phase began: rows an apply of the previous phase's changes holds. */
  #liveAtPhaseStart = new Set<string>();

  constructor(options: WorkloadOptions) {
    this.#options = options;
    this.#random = new SeededRandom(options.seed);
  }

  /** Keys (canonical key text) the workload deleted and has not written since. */
  get deletedKeys(): ReadonlySet<string> {
    return new Set(this.#deleted.keys());
  }

  /** Items the workload believes are in the table now. */
  get liveItems(): number {
    return this.#live.size;
  }

  /** Makes three attributes (a string, a number, a map) appear in the writes from now on. */
  nextPhase(): void {
    this.#phase++;
    this.#liveAtPhaseStart = new Set(this.#live.keys());
    const phase = this.#phase;
    this.#attributes.set(`added_${phase}_text`, (random) => ({ S: randomString(random) }));
    this.#attributes.set(`added_${phase}_num`, (random) => ({ N: randomNumber(random) }));
    this.#attributes.set(`added_${phase}_doc`, (random) => ({ M: randomMap(random, 2) }));
    this.stats.attributesIntroduced += 3;
  }

  /** Runs `count` operations, one after another. */
  async run(count: number): Promise<void> {
    for (let i = 0; i < count; i++) await this.step();
  }

  /**
   * Runs operations until `done()` holds (checked before each) and at least `minimum` ran, pausing
   * `pauseMs` between them (a trickle of writes while waiting for something else); returns how many ran.
   */
  async runUntil(
    done: () => boolean | Promise<boolean>,
    options: { minimum?: number; pauseMs?: number } = {},
  ): Promise<number> {
    let count = 0;
    while (count < (options.minimum ?? 0) || !(await done())) {
      await this.step();
      count++;
      if (options.pauseMs !== undefined) await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
    }
    return count;
  }

  /**
   * Deletes up to `count` keys that were live when this phase began and still are, so that the next
   * batch deletes rows whatever the random walk of deletes and re-inserts did within the phase.
   */
  async deleteRowsOfEarlierPhases(count: number): Promise<number> {
    const candidates = [...this.#live.keys()].filter((key) => this.#liveAtPhaseStart.has(key));
    let deleted = 0;
    for (const key of candidates.slice(0, count)) {
      const item = this.#live.get(key);
      if (item === undefined) continue;
      await this.#delete(this.#keysOf(item));
      this.stats.operations++;
      deleted++;
    }
    return deleted;
  }

  /** One random operation. */
  async step(): Promise<void> {
    const random = this.#random;
    let operation: Operation = random.weighted({
      insert: 25,
      replace: 10,
      update: 35,
      delete: 15,
      reinsert: 15,
    });
    if (operation === 'insert' && this.#live.size >= (this.#options.maxItems ?? 120)) operation = 'update';
    if (operation === 'reinsert' && this.#deleted.size === 0) operation = 'insert';
    if (operation !== 'insert' && operation !== 'reinsert' && this.#live.size === 0) operation = 'insert';
    this.stats.operations++;
    switch (operation) {
      case 'insert': {
        const item = this.#newItem(this.#freshKeys());
        await this.#put(item);
        this.stats.inserted++;
        return;
      }
      case 'replace': {
        const keys = this.#keysOf(random.pick([...this.#live.values()]));
        const before = this.#live.get(keyText(keys));
        const item = this.#newItem(keys);
        this.#countTypeChanges(before, item);
        await this.#put(item);
        this.stats.replaced++;
        return;
      }
      case 'update': {
        await this.#update(this.#keysOf(random.pick([...this.#live.values()])));
        this.stats.updated++;
        return;
      }
      case 'delete': {
        await this.#delete(this.#keysOf(random.pick([...this.#live.values()])));
        return;
      }
      case 'reinsert': {
        const keys = random.pick([...this.#deleted.values()]);
        this.#deleted.delete(keyText(keys));
        if (random.chance(0.7)) await this.#put(this.#newItem(keys));
        else await this.#update(keys);
        this.stats.reinserted++;
        return;
      }
    }
  }

  async #delete(keys: Item): Promise<void> {
    await this.#options.client.send(
      new DeleteItemCommand({ TableName: this.#options.table, Key: toSdkItem(keys) }),
    );
    this.#live.delete(keyText(keys));
    this.#deleted.set(keyText(keys), keys);
    this.stats.deleted++;
  }

  async #put(item: Item): Promise<void> {
    await this.#options.client.send(
      new PutItemCommand({ TableName: this.#options.table, Item: toSdkItem(item) }),
    );
    this.#live.set(keyText(this.#keysOf(item)), item);
  }

  /** SETs one to three attributes (a fifth of them to another type), maybe REMOVE, ADD and a nested SET. */
  async #update(keys: Item): Promise<void> {
    const random = this.#random;
    const before = this.#live.get(keyText(keys));
    const names = [...this.#attributes.keys()];
    const touched = new Set<string>();
    const attributeNames: Record<string, string> = {};
    const values: Record<string, AttributeValue> = {};
    const nameRef = (name: string): string => {
      const ref = `#a${Object.keys(attributeNames).length}`;
      attributeNames[ref] = name;
      return ref;
    };
    const valueRef = (value: AttributeValue): string => {
      const ref = `:v${Object.keys(values).length}`;
      values[ref] = value;
      return ref;
    };
    const sets: string[] = [];
    for (let i = random.between(1, 3); i > 0; i--) {
      const name = random.pick(names);
      if (touched.has(name)) continue;
      touched.add(name);
      const value = random.chance(0.2) ? randomValue(random) : this.#homeValue(name);
      sets.push(`${nameRef(name)} = ${valueRef(value)}`);
    }
    const profile = before?.['profile'];
    if (profile !== undefined && 'M' in profile && !touched.has('profile') && random.chance(0.3)) {
      touched.add('profile');
      sets.push(
        `${nameRef('profile')}.${nameRef(random.pick(['a', 'nested', 'ключ']))} = ${valueRef(randomValue(random))}`,
      );
    }
    const clauses = [`SET ${sets.join(', ')}`];
    const adds: string[] = [];
    const count = before?.['count'];
    // ADD must not push a number past 38 significant digits: only onto short ones.
    const addable = count === undefined || ('N' in count && count.N.length <= 15);
    if (!touched.has('count') && addable && random.chance(0.3)) {
      touched.add('count');
      adds.push(`${nameRef('count')} ${valueRef({ N: random.pick(['1', '-3', '0.5', '1000000']) })}`);
    }
    const scores = before?.['scores'];
    if (!touched.has('scores') && (scores === undefined || 'NS' in scores) && random.chance(0.2)) {
      touched.add('scores');
      adds.push(`${nameRef('scores')} ${valueRef(randomValue(random, 'NS'))}`);
    }
    if (adds.length > 0) clauses.push(`ADD ${adds.join(', ')}`);
    const removable = Object.keys(before ?? {}).filter((name) => !touched.has(name) && !this.#isKey(name));
    if (removable.length > 0 && random.chance(0.3)) {
      clauses.push(`REMOVE ${nameRef(random.pick(removable))}`);
      this.stats.attributesRemoved++;
    }
    const answer = await this.#options.client.send(
      new UpdateItemCommand({
        TableName: this.#options.table,
        Key: toSdkItem(keys),
        UpdateExpression: clauses.join(' '),
        ExpressionAttributeNames: attributeNames,
        ExpressionAttributeValues: toSdkItem(values),
        ReturnValues: 'ALL_NEW',
      }),
    );
    const after = fromSdkItem(answer.Attributes ?? {});
    this.#countTypeChanges(before, after);
    this.#live.set(keyText(keys), after);
  }

  #homeValue(name: string): AttributeValue {
    const home = this.#attributes.get(name);
    return home === undefined ? randomValue(this.#random) : home(this.#random);
  }

  #newItem(keys: Item): Item {
    const item: Record<string, AttributeValue> = {};
    for (const [name, home] of this.#attributes) {
      if (this.#random.chance(name.startsWith('added_') ? 0.4 : 0.75)) item[name] = home(this.#random);
    }
    return { ...item, ...keys };
  }

  #countTypeChanges(before: Item | undefined, after: Item): void {
    if (before === undefined) return;
    for (const [name, value] of Object.entries(after)) {
      const old = before[name];
      if (old !== undefined && attributeType(old) !== attributeType(value)) this.stats.typeChanges++;
    }
  }

  #isKey(name: string): boolean {
    const schema = this.#options.keySchema;
    return name === schema.partition.name || name === schema.sort?.name;
  }

  #keysOf(item: Item): Item {
    const schema = this.#options.keySchema;
    const keys: Record<string, AttributeValue> = {
      [schema.partition.name]: item[schema.partition.name] as AttributeValue,
    };
    if (schema.sort !== undefined) keys[schema.sort.name] = item[schema.sort.name] as AttributeValue;
    return keys;
  }

  /** Keys neither live nor deleted, from a small key space so that partitions hold several items. */
  #freshKeys(): Item {
    const schema = this.#options.keySchema;
    for (;;) {
      const keys: Record<string, AttributeValue> = {
        [schema.partition.name]: keyValue(schema.partition.type, this.#random.int(KEY_SPACE.partitions)),
      };
      if (schema.sort !== undefined) {
        keys[schema.sort.name] = keyValue(schema.sort.type, this.#random.int(KEY_SPACE.sorts));
      } else {
        // Without a sort key the partition key alone must leave room for every item.
        keys[schema.partition.name] = keyValue(
          schema.partition.type,
          this.#random.int(KEY_SPACE.partitions * KEY_SPACE.sorts),
        );
      }
      const text = keyText(keys);
      if (!this.#live.has(text) && !this.#deleted.has(text)) return keys;
    }
  }
}

/** The canonical text of an item's key attributes (what the lake table's `_ddb_key` holds). */
export function keyText(keys: Item): string {
  return itemToPlainJson(keys);
}

/**
 * The key value for index `n`: distinct per `n` by construction (numbers differ in value, not only
 * in text), with awkward cases among them (non-ASCII strings, negative and 30-digit numbers, binary
 * with a zero byte).
 */
export function keyValue(type: DynamoType, n: number): AttributeValue {
  switch (type) {
    case 'S':
      return { S: [`item#${n}`, `ключ#${n}`, `😀#${n}`][n % 3] as string };
    case 'N':
      return { N: [`${n}`, `-${n}.25`, `${n}${'0'.repeat(29)}`][n % 3] as string };
    case 'B':
      return { B: bytesToBase64(Uint8Array.from([n >> 8, n & 255, 0])) };
    default:
      throw new Error(`a key attribute cannot be of type ${type}`);
  }
}
