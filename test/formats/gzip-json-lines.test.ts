import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { BadLine } from '../../src/formats/bad-line.ts';
import { BadInputError, CorruptGzipError } from '../../src/formats/errors.ts';
import { type JsonLine, readGzipJsonLines } from '../../src/formats/gzip-json-lines.ts';
import { ObjectNotFoundError } from '../../src/storage/errors.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import { md5Base64, tempDir } from './support.ts';

async function storeWith(files: Record<string, Buffer | string>): Promise<LocalFolderStore> {
  const root = await tempDir();
  for (const [name, bytes] of Object.entries(files)) await writeFile(path.join(root, name), bytes);
  return new LocalFolderStore(root);
}

async function readAll(store: LocalFolderStore, key: string, collect?: BadLine[]): Promise<JsonLine[]> {
  const lines: JsonLine[] = [];
  const options = collect === undefined ? {} : { onBadLine: (bad: BadLine) => void collect.push(bad) };
  for await (const line of readGzipJsonLines(store, key, options)) lines.push(line);
  return lines;
}

/** Lines of many lengths, with multi-byte characters, so that chunk edges fall everywhere. */
function variedLines(count: number): string[] {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const text = `línea ${i} ✓ 𝄞 `.repeat((i * 7919) % 97);
    lines.push(JSON.stringify({ i, text, n: String(i * 1.5) }));
  }
  return lines;
}

describe('readGzipJsonLines', () => {
  it('yields every line with its 1-based number and text, across gzip chunk boundaries', async () => {
    const lines = [
      ...variedLines(20_000),
      JSON.stringify({ big: 'x'.repeat(3_000_000) }),
      ...variedLines(50),
    ];
    const store = await storeWith({ 'a.json.gz': gzipSync(`${lines.join('\n')}\n`) });
    const read = await readAll(store, 'a.json.gz');
    expect(read.length).toBe(lines.length);
    read.forEach((line, index) => {
      expect(line.line).toBe(index + 1);
      expect(line.text).toBe(lines[index]);
      expect(line.value).toEqual(JSON.parse(lines[index] as string));
    });
  });

  it('reads a last line that has no newline, and treats a final newline as no extra line', async () => {
    const store = await storeWith({
      'no-nl.gz': gzipSync('{"a":1}\n{"a":2}'),
      'nl.gz': gzipSync('{"a":1}\n{"a":2}\n'),
    });
    expect((await readAll(store, 'no-nl.gz')).map((l) => l.value)).toEqual([{ a: 1 }, { a: 2 }]);
    expect((await readAll(store, 'nl.gz')).map((l) => l.value)).toEqual([{ a: 1 }, { a: 2 }]);
  });

  it('reads an empty gzip member as a file without lines', async () => {
    const store = await storeWith({ 'empty.gz': gzipSync('') });
    expect(await readAll(store, 'empty.gz')).toEqual([]);
  });

  it('accepts CRLF line ends', async () => {
    const store = await storeWith({ 'crlf.gz': gzipSync('{"a":1}\r\n{"a":2}\r\n') });
    expect((await readAll(store, 'crlf.gz')).map((l) => l.value)).toEqual([{ a: 1 }, { a: 2 }]);
  });

  it('refuses a line of bad JSON naming the file and line', async () => {
    const store = await storeWith({ 'bad.gz': gzipSync('{"a":1}\n{"a":\n{"a":3}\n') });
    const error = await readAll(store, 'bad.gz').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadInputError);
    expect(error).toMatchObject({ code: 'BAD_INPUT', file: 'bad.gz', line: 2, text: '{"a":' });
    expect((error as Error).message).toContain('bad.gz, line 2');
  });

  it('refuses a line holding two JSON values and a blank line in the middle', async () => {
    const store = await storeWith({
      'two.gz': gzipSync('{"a":1} {"b":2}\n'),
      'blank.gz': gzipSync('{"a":1}\n\n{"a":3}\n'),
    });
    await expect(readAll(store, 'two.gz')).rejects.toMatchObject({ line: 1 });
    await expect(readAll(store, 'blank.gz')).rejects.toMatchObject({ line: 2, reason: 'blank line' });
  });

  it('hands bad lines to onBadLine with their raw text and goes on', async () => {
    const invalidUtf8 = Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    const body = Buffer.concat([
      Buffer.from('{"a":1}\nnot json\n'),
      invalidUtf8,
      Buffer.from('\n{"a":4}\n\n{"a":6}\n'),
    ]);
    const store = await storeWith({ 'mixed.gz': gzipSync(body) });
    const bad: BadLine[] = [];
    const read = await readAll(store, 'mixed.gz', bad);
    expect(read.map((l) => [l.line, l.value])).toEqual([
      [1, { a: 1 }],
      [4, { a: 4 }],
      [6, { a: 6 }],
    ]);
    expect(bad.map((b) => [b.file, b.line, b.text])).toEqual([
      ['mixed.gz', 2, 'not json'],
      ['mixed.gz', 3, invalidUtf8.toString('utf8')],
      ['mixed.gz', 5, ''],
    ]);
    expect(bad[1]?.reason).toBe('the line is not valid UTF-8');
  });

  it('waits for an asynchronous onBadLine before reading on, and stops when it throws', async () => {
    const store = await storeWith({ 'bad.gz': gzipSync('{"a":1}\nnope\n{"a":3}\n') });
    const events: string[] = [];
    const lines = readGzipJsonLines(store, 'bad.gz', {
      onBadLine: async (bad) => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        events.push(`bad ${bad.line}`);
      },
    });
    for await (const line of lines) events.push(`line ${line.line}`);
    expect(events).toEqual(['bad 2', 'line 1', 'line 3']);

    const stop = new Error('quarantine is full');
    await expect(
      (async () => {
        for await (const _ of readGzipJsonLines(store, 'bad.gz', { onBadLine: () => Promise.reject(stop) })) {
          // reading until the bad line
        }
      })(),
    ).rejects.toBe(stop);
  });

  it('reports a truncated gzip as CorruptGzipError naming the file and the lines read before it', async () => {
    const lines = variedLines(30_000);
    const whole = gzipSync(`${lines.join('\n')}\n`);
    const store = await storeWith({ 'cut.gz': whole.subarray(0, Math.floor(whole.length * 0.6)) });
    const seen: number[] = [];
    const error = await (async () => {
      for await (const line of readGzipJsonLines(store, 'cut.gz')) seen.push(line.line);
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptGzipError);
    expect(error).toMatchObject({ code: 'CORRUPT_GZIP', file: 'cut.gz' });
    const linesRead = (error as CorruptGzipError).linesRead;
    expect(linesRead).toBeGreaterThan(0);
    expect(linesRead).toBeLessThan(lines.length);
    expect(seen.length).toBe(linesRead);
    expect((error as Error).message).toContain(`after line ${linesRead}`);
  });

  it('reports bytes that are not gzip, and an empty object, as CorruptGzipError', async () => {
    const store = await storeWith({ 'plain.gz': '{"a":1}\n', 'zero.gz': Buffer.alloc(0) });
    await expect(readAll(store, 'plain.gz')).rejects.toMatchObject({ code: 'CORRUPT_GZIP', linesRead: 0 });
    await expect(readAll(store, 'zero.gz')).rejects.toMatchObject({ code: 'CORRUPT_GZIP', file: 'zero.gz' });
  });

  it('shows every compressed byte to onCompressedChunk, in order', async () => {
    const bytes = gzipSync(`${variedLines(5_000).join('\n')}\n`);
    const store = await storeWith({ 'a.gz': bytes });
    const chunks: Buffer[] = [];
    for await (const _ of readGzipJsonLines(store, 'a.gz', {
      onCompressedChunk: (chunk) => chunks.push(chunk),
    })) {
      // consume
    }
    expect(md5Base64(Buffer.concat(chunks))).toBe(md5Base64(bytes));
  });

  it('lets the store error for a missing object pass through', async () => {
    const store = await storeWith({});
    await expect(readAll(store, 'missing.gz')).rejects.toBeInstanceOf(ObjectNotFoundError);
  });

  it('can be stopped early and read again', async () => {
    const store = await storeWith({ 'a.gz': gzipSync(`${variedLines(10_000).join('\n')}\n`) });
    for await (const line of readGzipJsonLines(store, 'a.gz')) if (line.line === 3) break;
    expect((await readAll(store, 'a.gz')).length).toBe(10_000);
  });
});
