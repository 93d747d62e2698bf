import {
  DeleteItemCommand,
  type DynamoDBClient,
  PutItemCommand,
  type AttributeValue as SdkAttributeValue,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { Item } from '../dynamo/attribute-value.ts';
import { toSdkItem } from '../dynamo/sdk-interop.ts';
import { mulberry32 } from '../seeded-random.ts';
import { sleep } from '../sleep.ts';
import { sampleOrders } from './sample-orders.ts';

/*
 * The changes a live `orders` table keeps getting while the demo backfills and applies: updates
 * (a status moves on, a quantity grows, a total turns into a string, a tag is added, a 38-digit
 * number changes in its last digit, an attribute is removed, empty maps and lists are set, a map
 * loses its last member), new orders of every attribute type, and deletes. Seeded, so two runs make the same changes in the same order; one at a time, paced
 * to a fixed rate, so the stream and capture stay small next to the history.
 */

/** The key of an order (`pk`, `sk`, both S). */
export interface OrderKey {
  readonly pk: string;
  readonly sk: string;
}

export interface DemoWorkloadOptions {
  readonly client: DynamoDBClient;
  readonly table: string;
  /** The orders that exist when the workload starts, in a deterministic order. */
  readonly keys: readonly OrderKey[];
  /** Changes per second at most (each one awaited before the next). */
  readonly changesPerSecond: number;
  /** Default 7. */
  readonly seed?: number;
}

/** What the workload has done so far. */
export interface DemoWorkloadStats {
  readonly changes: number;
  readonly updated: number;
  readonly inserted: number;
  readonly deleted: number;
  /** Orders that exist now, by the workload's own count. */
  readonly liveOrders: number;
}

/** The changes of a live table, run in the background at a paced rate. */
export class DemoWorkload {
  readonly #options: DemoWorkloadOptions;
  readonly #live: OrderKey[];
  readonly #random: () => number;
  readonly #newOrders: Iterator<Item>;
  #updated = 0;
  #inserted = 0;
  #deleted = 0;
  #running: { readonly stop: AbortController; readonly done: Promise<void> } | undefined;
  #failure: unknown;

  constructor(options: DemoWorkloadOptions) {
    if (!(options.changesPerSecond > 0)) {
      throw new RangeError(`changesPerSecond must be above 0, got ${options.changesPerSecond}`);
    }
    this.#options = options;
    this.#live = [...options.keys];
    const seed = options.seed ?? 7;
    this.#random = mulberry32(seed);
    this.#newOrders = sampleOrders(Number.POSITIVE_INFINITY, seed + 1);
  }

  get stats(): DemoWorkloadStats {
    return {
      changes: this.#updated + this.#inserted + this.#deleted,
      updated: this.#updated,
      inserted: this.#inserted,
      deleted: this.#deleted,
      liveOrders: this.#live.length,
    };
  }

  /** Starts (or resumes) making changes in the background. Idempotent while running. */
  start(): void {
    if (this.#running !== undefined) return;
    const stop = new AbortController();
    const done = this.#loop(stop.signal);
    done.catch((error: unknown) => {
      this.#failure = error;
    });
    this.#running = { stop, done };
  }

  /** Throws what the last change failed with, if one did (the workload then stopped). */
  check(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }

  /**
   * Stops after the change in hand and resolves once it is done, so that every change the
   * workload made is in the table (and in its stream) when this resolves. Throws what a change
   * failed with. Idempotent.
   */
  async stop(): Promise<DemoWorkloadStats> {
    const running = this.#running;
    this.#running = undefined;
    if (running !== undefined) {
      running.stop.abort();
      await running.done.catch(() => {});
    }
    this.check();
    return this.stats;
  }

  async #loop(signal: AbortSignal): Promise<void> {
    const interval = 1000 / this.#options.changesPerSecond;
    const started = performance.now();
    for (let made = 0; !signal.aborted; made++) {
      await sleep(started + made * interval - performance.now(), signal);
      if (signal.aborted) return;
      await this.#change();
    }
  }

  async #change(): Promise<void> {
    const roll = this.#random();
    if (roll < 0.1 && this.#live.length > 0) await this.#delete();
    else if (roll < 0.3 || this.#live.length === 0) await this.#insert();
    else await this.#update();
  }

  async #insert(): Promise<void> {
    const order = this.#newOrders.next().value as Item;
    // History orders are `order#<8 digits>`; the workload's own start with `w`, so none collide.
    const sk = `order#w${String(this.#inserted).padStart(7, '0')}`;
    const item: Item = { ...order, sk: { S: sk } };
    await this.#options.client.send(
      new PutItemCommand({ TableName: this.#options.table, Item: toSdkItem(item) }),
    );
    this.#live.push({ pk: (order['pk'] as { S: string }).S, sk });
    this.#inserted++;
  }

  async #delete(): Promise<void> {
    const index = this.#int(this.#live.length);
    const key = this.#live[index] as OrderKey;
    await this.#options.client.send(
      new DeleteItemCommand({ TableName: this.#options.table, Key: sdkKey(key) }),
    );
    // Swap-remove: the order of the rest only has to be deterministic, not kept.
    this.#live[index] = this.#live[this.#live.length - 1] as OrderKey;
    this.#live.pop();
    this.#deleted++;
  }

  async #update(): Promise<void> {
    const key = this.#live[this.#int(this.#live.length)] as OrderKey;
    const shape = this.#int(6);
    const names: Record<string, string> = {};
    const values: Record<string, SdkAttributeValue> = {};
    let expression: string;
    if (shape === 0) {
      Object.assign(names, { '#status': 'status', '#qty': 'qty', '#note': 'note' });
      Object.assign(values, {
        ':status': { S: this.#pick(['paid', 'shipped', 'delivered', 'returned']) },
        ':one': { N: '1' },
      });
      expression = 'SET #status = :status, #qty = #qty + :one REMOVE #note';
    } else if (shape === 1) {
      // The total sometimes drifts to a string, as it does in the history.
      Object.assign(names, { '#total': 'total', '#meta': 'meta', '#source': 'source' });
      Object.assign(values, {
        ':total': this.#random() < 0.2 ? { S: 'n/a' } : { N: `${this.#int(100_000)}.${this.#int(10)}5` },
        ':source': { S: this.#pick(['web', 'app', 'api', 'store']) },
      });
      expression = 'SET #total = :total, #meta.#source = :source';
    } else if (shape === 2) {
      Object.assign(names, { '#tags': 'tags', '#paid': 'paid' });
      Object.assign(values, {
        ':tag': { SS: [this.#pick(['gift', 'priority', 'fragile', 'bulk', 'promo', 'late'])] },
        ':paid': { BOOL: true },
      });
      expression = 'ADD #tags :tag SET #paid = :paid';
    } else if (shape === 3) {
      // Empty containers, at the top and nested: DynamoDB's stream carries them as {"M":{}} and {"L":[]}.
      Object.assign(names, { '#prefs': 'prefs', '#history': 'history', '#meta': 'meta', '#extra': 'extra' });
      Object.assign(values, {
        ':empty': { M: {} },
        ':none': { L: [] },
        ':both': { L: [{ M: {} }, { L: [] }] },
      });
      expression = 'SET #prefs = :empty, #history = :none, #meta.#extra = :both';
    } else if (shape === 4) {
      // A map that loses its last member stays, empty: first one member, then REMOVE it.
      await this.#send(
        key,
        'SET #prefs = :one',
        { '#prefs': 'prefs' },
        { ':one': { M: { theme: { S: 'dark' } } } },
      );
      Object.assign(names, { '#prefs': 'prefs', '#theme': 'theme' });
      expression = 'REMOVE #prefs.#theme';
    } else {
      // A number that only its 38th digit tells apart from the one before.
      Object.assign(names, { '#ledger': 'ledger' });
      Object.assign(values, { ':ledger': { N: `1234567890123456789012345678901234567${this.#int(10)}` } });
      expression = 'SET #ledger = :ledger';
    }
    await this.#send(key, expression, names, values);
    this.#updated++;
  }

  async #send(
    key: OrderKey,
    expression: string,
    names: Record<string, string>,
    values: Record<string, SdkAttributeValue>,
  ): Promise<void> {
    await this.#options.client.send(
      new UpdateItemCommand({
        TableName: this.#options.table,
        Key: sdkKey(key),
        UpdateExpression: expression,
        ExpressionAttributeNames: names,
        // DynamoDB refuses an empty map of values.
        ...(Object.keys(values).length === 0 ? {} : { ExpressionAttributeValues: values }),
      }),
    );
  }

  #int(below: number): number {
    return Math.floor(this.#random() * below);
  }

  #pick<T>(values: readonly T[]): T {
    return values[this.#int(values.length)] as T;
  }
}

function sdkKey(key: OrderKey): Record<string, SdkAttributeValue> {
  return { pk: { S: key.pk }, sk: { S: key.sk } };
}
