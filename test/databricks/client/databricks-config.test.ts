import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type DatabricksConfig, resolveDatabricksConfig } from '../../../src/databricks/databricks-config.ts';
import { DatabricksConfigError } from '../../../src/databricks/databricks-errors.ts';

const PAT_IN_FILE = 'dapi-file-secret-0001';
const PAT_IN_ENV = 'dapi-env-secret-0002';
const SECRET_IN_FILE = 'dose-file-secret-0003';
const SECRET_IN_ENV = 'dose-env-secret-0004';
const ALL_SECRETS = [PAT_IN_FILE, PAT_IN_ENV, SECRET_IN_FILE, SECRET_IN_ENV];

const CFG = `
; written by databricks configure
[DEFAULT]
host = https://default.cloud.databricks.com/
token = ${PAT_IN_FILE}

[prod]
host = prod.cloud.databricks.com
client_id = 11111111-2222-3333-4444-555555555555
client_secret = ${SECRET_IN_FILE}

[nohost]
token = ${PAT_IN_FILE}

[u2m]
host = https://u2m.cloud.databricks.com
auth_type = databricks-cli
`;

let home: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'ddb-lake-databrickscfg-'));
});
afterEach(() => {
  rmSync(home, { recursive: true, force: true });
});

function withCfg(text: string = CFG): string {
  const path = join(home, '.databrickscfg');
  writeFileSync(path, text);
  return path;
}

function refused(run: () => unknown): DatabricksConfigError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(DatabricksConfigError);
    const config = error as DatabricksConfigError;
    expect(config.code).toBe('DATABRICKS_CONFIG');
    for (const secret of ALL_SECRETS) expect(config.message).not.toContain(secret);
    return config;
  }
  throw new Error('expected a DatabricksConfigError');
}

function expectNoSecretShown(config: DatabricksConfig): void {
  const shown = [
    JSON.stringify(config),
    String(config),
    inspect(config, { depth: 10 }),
    `${config.auth.type}`,
  ];
  for (const text of shown) for (const secret of ALL_SECRETS) expect(text).not.toContain(secret);
}

describe('resolving the Databricks host and credentials', () => {
  it('the environment alone: host normalized, the token as given, the file not read', () => {
    const file = withCfg();
    const config = resolveDatabricksConfig({
      env: { DATABRICKS_HOST: 'adb-1.azuredatabricks.net/', DATABRICKS_TOKEN: PAT_IN_ENV },
      homeDir: home,
    });
    expect(config.host).toBe('https://adb-1.azuredatabricks.net');
    expect(config.hostSource).toBe('DATABRICKS_HOST');
    expect(config.auth.type).toBe('pat');
    expect(config.auth.type === 'pat' && config.auth.token.reveal()).toBe(PAT_IN_ENV);
    expect(config.auth.source).toBe('DATABRICKS_TOKEN');
    expect(config.configFile).toBeUndefined();
    expect(config.profile).toBeUndefined();
    expect(file).toBe(join(home, '.databrickscfg'));
    expectNoSecretShown(config);
  });

  it('nothing in the environment: the DEFAULT profile of ~/.databrickscfg', () => {
    const file = withCfg();
    const config = resolveDatabricksConfig({ env: {}, homeDir: home });
    expect(config.host).toBe('https://default.cloud.databricks.com');
    expect(config.auth.type === 'pat' && config.auth.token.reveal()).toBe(PAT_IN_FILE);
    expect(config.auth.source).toBe(`profile [DEFAULT] of ${file}`);
    expect(config.profile).toBe('DEFAULT');
  });

  it('a named profile with OAuth M2M credentials; https:// added to its host', () => {
    withCfg();
    const config = resolveDatabricksConfig({ profile: 'prod', env: {}, homeDir: home });
    expect(config.host).toBe('https://prod.cloud.databricks.com');
    expect(config.auth).toMatchObject({
      type: 'oauth-m2m',
      clientId: '11111111-2222-3333-4444-555555555555',
    });
    expect(config.auth.type === 'oauth-m2m' && config.auth.clientSecret.reveal()).toBe(SECRET_IN_FILE);
    expect(config.profile).toBe('prod');
    expectNoSecretShown(config);
  });

  it('DATABRICKS_CONFIG_PROFILE names the profile; --profile wins over it', () => {
    withCfg();
    const env = { DATABRICKS_CONFIG_PROFILE: 'prod' };
    expect(resolveDatabricksConfig({ env, homeDir: home }).profile).toBe('prod');
    expect(resolveDatabricksConfig({ profile: 'DEFAULT', env, homeDir: home }).profile).toBe('DEFAULT');
  });

  it('an environment variable wins over the same key of a named profile, as the SDKs do', () => {
    const file = withCfg();
    const config = resolveDatabricksConfig({
      profile: 'nohost',
      env: { DATABRICKS_HOST: 'https://env.cloud.databricks.com', DATABRICKS_TOKEN: PAT_IN_ENV },
      homeDir: home,
    });
    expect(config.host).toBe('https://env.cloud.databricks.com');
    expect(config.auth.type === 'pat' && config.auth.token.reveal()).toBe(PAT_IN_ENV);
    expect(config.profile).toBe('nohost');
    expect(config.configFile).toBe(file);
  });

  it('a host from the environment, the token from the named profile', () => {
    const file = withCfg();
    const config = resolveDatabricksConfig({
      profile: 'nohost',
      env: { DATABRICKS_HOST: 'env.cloud.databricks.com' },
      homeDir: home,
    });
    expect(config.hostSource).toBe('DATABRICKS_HOST');
    expect(config.auth.source).toBe(`profile [nohost] of ${file}`);
  });

  it('DATABRICKS_CONFIG_FILE and [__settings__] default_profile choose the file and the profile', () => {
    const path = join(home, 'other.cfg');
    writeFileSync(
      path,
      `[__settings__]\ndefault_profile = team\n\n[team]\nhost = team.example.com\ntoken = ${PAT_IN_FILE}\n`,
    );
    const config = resolveDatabricksConfig({ env: { DATABRICKS_CONFIG_FILE: path }, homeDir: home });
    expect(config.host).toBe('https://team.example.com');
    expect(config.profile).toBe('team');
  });

  it('an unknown profile: the message names the file and lists the profiles it has', () => {
    const file = withCfg();
    const error = refused(() => resolveDatabricksConfig({ profile: 'staging', env: {}, homeDir: home }));
    expect(error.message).toBe(
      `The Databricks config file ${file} has no profile [staging] (named by --profile); its profiles are ` +
        '[DEFAULT], [prod], [nohost], [u2m]. Name one of those, or add the profile (databricks configure --profile <name>).',
    );
  });

  it('a named profile without the file says which file it looked for', () => {
    const error = refused(() =>
      resolveDatabricksConfig({ env: { DATABRICKS_CONFIG_PROFILE: 'prod' }, homeDir: home }),
    );
    expect(error.message).toContain(`Profile [prod] (named by DATABRICKS_CONFIG_PROFILE)`);
    expect(error.message).toContain(`${join(home, '.databrickscfg')}, which does not exist`);
  });

  it('no host anywhere: names DATABRICKS_HOST and the profile that lacks it', () => {
    const file = withCfg();
    const error = refused(() => resolveDatabricksConfig({ profile: 'nohost', env: {}, homeDir: home }));
    expect(error.message).toMatch(
      new RegExp(
        `^No Databricks host is configured: DATABRICKS_HOST is not set, and profile \\[nohost\\] of ${file} has no host\\.`,
      ),
    );
  });

  it('no file and no environment: says where it looked', () => {
    const error = refused(() => resolveDatabricksConfig({ env: {}, homeDir: home }));
    expect(error.message).toContain(
      `DATABRICKS_HOST is not set, and ${join(home, '.databrickscfg')} does not exist`,
    );
  });

  it('a host without credentials names every variable and the file it looked in', () => {
    const error = refused(() =>
      resolveDatabricksConfig({ env: { DATABRICKS_HOST: 'x.cloud.databricks.com' }, homeDir: home }),
    );
    expect(error.message).toContain(
      'none of DATABRICKS_TOKEN, DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET is set, and ' +
        `${join(home, '.databrickscfg')} was not read`,
    );
  });

  it('a client id without its secret says which half is missing', () => {
    const error = refused(() =>
      resolveDatabricksConfig({
        env: { DATABRICKS_HOST: 'x.cloud.databricks.com', DATABRICKS_CLIENT_ID: 'abc' },
        homeDir: home,
      }),
    );
    expect(error.message).toMatch(
      /^client_id is set \(from DATABRICKS_CLIENT_ID\), but client_secret is not: DATABRICKS_CLIENT_SECRET is not set/,
    );
  });

  it('a token and a client secret together are refused, as the SDKs refuse mixed methods, naming both sources', () => {
    const file = withCfg();
    const error = refused(() =>
      resolveDatabricksConfig({ profile: 'prod', env: { DATABRICKS_TOKEN: PAT_IN_ENV }, homeDir: home }),
    );
    expect(error.message).toContain('a personal access token (from DATABRICKS_TOKEN)');
    expect(error.message).toContain(`a service principal OAuth secret (from profile [prod] of ${file})`);
    expect(error.message).toContain('DATABRICKS_AUTH_TYPE');
  });

  it('DATABRICKS_AUTH_TYPE chooses between a token and a client secret', () => {
    withCfg();
    const env = { DATABRICKS_TOKEN: PAT_IN_ENV, DATABRICKS_AUTH_TYPE: 'oauth-m2m' };
    expect(resolveDatabricksConfig({ profile: 'prod', env, homeDir: home }).auth.type).toBe('oauth-m2m');
    const pat = resolveDatabricksConfig({
      profile: 'prod',
      env: { ...env, DATABRICKS_AUTH_TYPE: 'pat' },
      homeDir: home,
    });
    expect(pat.auth.type).toBe('pat');
  });

  it('a profile of databricks auth login (auth_type databricks-cli) is refused, saying what is supported', () => {
    withCfg();
    const error = refused(() => resolveDatabricksConfig({ profile: 'u2m', env: {}, homeDir: home }));
    expect(error.message).toMatch(
      /^auth_type databricks-cli \(from profile \[u2m\] of .*\) is not one ddb-lake supports/,
    );
  });

  it('a host that is no URL is refused', () => {
    const error = refused(() =>
      resolveDatabricksConfig({
        env: { DATABRICKS_HOST: 'https://bad host', DATABRICKS_TOKEN: PAT_IN_ENV },
        homeDir: home,
      }),
    );
    expect(error.message).toContain(
      'The Databricks host https://bad host (from DATABRICKS_HOST) is not a URL',
    );
  });

  it('a URL copied from the browser loses its query, its :443 and its trailing slash', () => {
    const config = resolveDatabricksConfig({
      env: { DATABRICKS_HOST: 'https://adb-7.azuredatabricks.net:443/?o=7#', DATABRICKS_TOKEN: PAT_IN_ENV },
      homeDir: home,
    });
    expect(config.host).toBe('https://adb-7.azuredatabricks.net');
  });
});
