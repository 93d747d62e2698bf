import { describe, expect, it } from 'vitest';
import { retryAfterOf } from '../../../src/databricks/databricks-http.ts';
import { parseDatabricksCfg, profileNames } from '../../../src/databricks/databrickscfg.ts';

describe('reading ~/.databrickscfg as the SDKs do', () => {
  it('reads sections, = and : separators, comments, lowercased keys and trimmed values', () => {
    const cfg = parseDatabricksCfg(
      [
        'orphan = ignored',
        '# a comment',
        '[DEFAULT]',
        '',
        '[prod]',
        '  HOST = https://prod.example.com  ',
        '; another comment',
        'token: dapi-1',
        '[__settings__]',
        'default_profile = prod',
        '[prod]',
        'client_id = later-key',
      ].join('\r\n'),
    );
    expect(Object.fromEntries(cfg.sections.get('prod')!)).toEqual({
      host: 'https://prod.example.com',
      token: 'dapi-1',
      client_id: 'later-key',
    });
    expect(profileNames(cfg)).toEqual(['prod']);
  });

  it('an indented line continues the value above it', () => {
    const cfg = parseDatabricksCfg('[a]\nscopes = sql\n  files\nhost = h\n');
    expect(cfg.sections.get('a')!.get('scopes')).toBe('sql\nfiles');
    expect(cfg.sections.get('a')!.get('host')).toBe('h');
  });
});

describe('Retry-After', () => {
  it('reads delay-seconds and HTTP dates; ignores what it cannot read', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterOf('7', now)).toBe(7000);
    expect(retryAfterOf('Thu, 01 Jan 2026 00:00:12 GMT', now)).toBe(12_000);
    expect(retryAfterOf('Wed, 31 Dec 2025 23:59:00 GMT', now)).toBe(0);
    expect(retryAfterOf('soon', now)).toBeUndefined();
    expect(retryAfterOf(null, now)).toBeUndefined();
  });
});
