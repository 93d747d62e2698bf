import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DatabricksConfigError } from './databricks-errors.ts';
import { type DatabricksCfg, parseDatabricksCfg, profileNames, SETTINGS_SECTION } from './databrickscfg.ts';

/*
 * Databricks client unified authentication, as the SDKs (Python, Go, Java) and the Databricks CLI
 * resolve it, for the two methods ddb-lake supports: a personal access token (`pat`) and a service
 * principal's OAuth secret (`oauth-m2m`).
 *
 * Each attribute is taken from the environment first, then from a profile of the config file.
 * The file is read when a profile is named (`--profile`, DATABRICKS_CONFIG_PROFILE), or when the
 * environment sets neither a host nor any credential; then the named profile, else
 * `[__settings__] default_profile`, else `[DEFAULT]`, fills the attributes the environment left
 * unset. A named profile does not override the environment: that is the SDKs' rule (their unified
 * auth tests pin it), so DATABRICKS_TOKEN beats the token of `--profile prod`.
 */

/** A credential that never shows in a message, a `toString`, `JSON.stringify` or `console.log`. */
export class DatabricksSecret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** The secret itself, for the one place that sends it. */
  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return '***';
  }

  toJSON(): string {
    return '***';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'DatabricksSecret(***)';
  }
}

/** How requests authenticate, and where the credentials were found (for messages). */
export type DatabricksAuth =
  | {
      readonly type: 'pat';
      readonly token: DatabricksSecret;
      /** Where the token came from: `DATABRICKS_TOKEN`, or `profile [prod] of /home/me/.databrickscfg`. */
      readonly source: string;
    }
  | {
      readonly type: 'oauth-m2m';
      readonly clientId: string;
      readonly clientSecret: DatabricksSecret;
      /** Where the client id and secret came from. */
      readonly source: string;
    };

/** A resolved workspace connection: host and credentials. Holds no secret in plain text. */
export interface DatabricksConfig {
  /** `https://<workspace host>`, without a trailing slash. */
  readonly host: string;
  /** Where the host came from: `DATABRICKS_HOST`, or `profile [prod] of /home/me/.databrickscfg`. */
  readonly hostSource: string;
  readonly auth: DatabricksAuth;
  /** The profile that was read, if any. */
  readonly profile: string | undefined;
  /** The config file that was read, if any. */
  readonly configFile: string | undefined;
}

/** Where to look, for `resolveDatabricksConfig`. */
export interface ResolveDatabricksConfigOptions {
  /** A profile to read (`--profile`); otherwise DATABRICKS_CONFIG_PROFILE, else the default one. */
  readonly profile?: string;
  /** The environment; `process.env` when absent. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The config file; otherwise DATABRICKS_CONFIG_FILE, else `~/.databrickscfg`. */
  readonly configFile?: string;
  /** The home directory `~` stands for; `os.homedir()` when absent. */
  readonly homeDir?: string;
}

type Attribute = 'host' | 'token' | 'client_id' | 'client_secret' | 'auth_type';

const ENV_NAMES: Record<Attribute, string> = {
  host: 'DATABRICKS_HOST',
  token: 'DATABRICKS_TOKEN',
  client_id: 'DATABRICKS_CLIENT_ID',
  client_secret: 'DATABRICKS_CLIENT_SECRET',
  auth_type: 'DATABRICKS_AUTH_TYPE',
};

const ATTRIBUTES = Object.keys(ENV_NAMES) as Attribute[];
const SUPPORTED_AUTH_TYPES: ReadonlySet<string> = new Set(['pat', 'oauth-m2m']);

interface Found {
  readonly value: string;
  readonly source: string;
}

/**
 * Resolves the Databricks host and credentials from the environment and the config file, as the
 * Databricks SDKs do (see the comment at the top of this file). The host gets `https://` when it
 * has no scheme and loses a trailing slash, a `:443` and any query (`?o=<workspace id>` of a URL
 * copied from the browser).
 *
 * Throws `DatabricksConfigError` saying what is missing and every place it looked: no host, no
 * credentials, a client id without its secret, a named profile the file does not have (listing
 * the profiles it has), a missing or unreadable file a named profile needs, an unsupported
 * `auth_type`, or both a token and a client secret (the SDKs refuse to guess between methods
 * unless `auth_type` chooses one). No message contains a secret.
 */
export function resolveDatabricksConfig(options: ResolveDatabricksConfigOptions = {}): DatabricksConfig {
  const env = options.env ?? process.env;
  const homeDir = options.homeDir ?? homedir();
  const found = new Map<Attribute, Found>();
  for (const attribute of ATTRIBUTES) {
    const value = env[ENV_NAMES[attribute]]?.trim();
    if (value !== undefined && value !== '') found.set(attribute, { value, source: ENV_NAMES[attribute] });
  }

  const envProfile = nonEmpty(env['DATABRICKS_CONFIG_PROFILE']);
  const optionProfile = nonEmpty(options.profile);
  const named =
    optionProfile !== undefined
      ? { name: optionProfile, by: '--profile' }
      : envProfile !== undefined
        ? { name: envProfile, by: 'DATABRICKS_CONFIG_PROFILE' }
        : undefined;
  const fileSetting = options.configFile ?? nonEmpty(env['DATABRICKS_CONFIG_FILE']) ?? '~/.databrickscfg';
  const filePath =
    fileSetting === '~' || fileSetting.startsWith('~/') ? join(homeDir, fileSetting.slice(1)) : fileSetting;

  // What the file gave, said in the messages of what is still missing.
  let fileNote: string;
  let profile: string | undefined;
  let configFile: string | undefined;
  if (named === undefined && [...found.keys()].some((attribute) => attribute !== 'auth_type')) {
    fileNote = `${filePath} was not read, since the environment sets Databricks variables and names no profile`;
  } else {
    const cfg = readCfg(filePath, named);
    if (cfg === undefined) {
      fileNote = `${filePath} does not exist`;
    } else {
      configFile = filePath;
      profile = chooseProfile(cfg, filePath, named);
      if (profile === undefined) {
        fileNote = `${filePath} has no [DEFAULT] profile`;
      } else {
        const source = `profile [${profile}] of ${filePath}`;
        fileNote = source;
        const keys = cfg.sections.get(profile)!;
        for (const attribute of ATTRIBUTES) {
          const value = keys.get(attribute);
          if (!found.has(attribute) && value !== undefined && value !== '') {
            found.set(attribute, { value, source });
          }
        }
      }
    }
  }

  const host = found.get('host');
  if (host === undefined) {
    throw new DatabricksConfigError(
      `No Databricks host is configured: DATABRICKS_HOST is not set, and ${lacks(fileNote, 'host')}. Set ` +
        'DATABRICKS_HOST to the workspace URL (https://<workspace>.cloud.databricks.com), add host = <that URL> ' +
        'to the profile, or name a profile that has one with --profile or DATABRICKS_CONFIG_PROFILE.',
    );
  }
  return Object.freeze({
    host: normalizeHost(host),
    hostSource: host.source,
    auth: Object.freeze(authOf(found, fileNote)),
    profile,
    configFile,
  });
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}

/** "profile [x] of f has no host", or the file note as it stands when no profile was read. */
function lacks(fileNote: string, what: string): string {
  return fileNote.startsWith('profile [') ? `${fileNote} has no ${what}` : fileNote;
}

function readCfg(path: string, named: { name: string; by: string } | undefined): DatabricksCfg | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT' && named === undefined) return undefined;
    const what =
      code === 'ENOENT' ? 'does not exist' : `could not be read (${code ?? (error as Error).message})`;
    throw new DatabricksConfigError(
      `Profile [${named?.name ?? 'DEFAULT'}]${named === undefined ? '' : ` (named by ${named.by})`} was to be read ` +
        `from the Databricks config file ${path}, which ${what}. Check DATABRICKS_CONFIG_FILE and the profile ` +
        'name, or create the profile (databricks configure --profile <name>).',
      { cause: error },
    );
  }
  return parseDatabricksCfg(text);
}

/** The profile to read: the named one, else `[__settings__] default_profile`, else `[DEFAULT]` if it has keys. */
function chooseProfile(
  cfg: DatabricksCfg,
  path: string,
  named: { name: string; by: string } | undefined,
): string | undefined {
  const profiles = profileNames(cfg);
  const settingsDefault = nonEmpty(cfg.sections.get(SETTINGS_SECTION)?.get('default_profile'));
  const wanted =
    named ??
    (settingsDefault === undefined
      ? undefined
      : { name: settingsDefault, by: `[${SETTINGS_SECTION}] default_profile` });
  if (wanted === undefined) return profiles.includes('DEFAULT') ? 'DEFAULT' : undefined;
  if (wanted.name !== SETTINGS_SECTION && profiles.includes(wanted.name)) return wanted.name;
  const known =
    profiles.length === 0
      ? 'it has no profiles'
      : `its profiles are ${profiles.map((p) => `[${p}]`).join(', ')}`;
  throw new DatabricksConfigError(
    `The Databricks config file ${path} has no profile [${wanted.name}] (named by ${wanted.by}); ${known}. ` +
      'Name one of those, or add the profile (databricks configure --profile <name>).',
  );
}

function authOf(found: ReadonlyMap<Attribute, Found>, fileNote: string): DatabricksAuth {
  const authType = found.get('auth_type');
  const token = found.get('token');
  const clientId = found.get('client_id');
  const clientSecret = found.get('client_secret');
  if (authType !== undefined && !SUPPORTED_AUTH_TYPES.has(authType.value)) {
    throw new DatabricksConfigError(
      `auth_type ${authType.value} (from ${authType.source}) is not one ddb-lake supports: it authenticates with a ` +
        'personal access token (auth_type pat: DATABRICKS_TOKEN or token) or a service principal OAuth secret ' +
        '(auth_type oauth-m2m: DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET, or client_id and client_secret). ' +
        'Configure one of those, or name another profile.',
    );
  }
  const wantsPat = authType === undefined ? token !== undefined : authType.value === 'pat';
  const wantsOAuth =
    authType === undefined
      ? clientId !== undefined || clientSecret !== undefined
      : authType.value === 'oauth-m2m';
  if (wantsPat && wantsOAuth) {
    // The SDKs' rule: their credential chain would try the token first, but they validate before
    // it and refuse a configuration that mixes methods unless auth_type chooses one.
    const oauthSource = (clientId ?? clientSecret)!.source;
    throw new DatabricksConfigError(
      `Two Databricks authentication methods are configured: a personal access token (from ${token!.source}) and ` +
        `a service principal OAuth secret (from ${oauthSource}). Remove one, or choose one with ` +
        'DATABRICKS_AUTH_TYPE (pat or oauth-m2m) or auth_type in the profile.',
    );
  }
  if (wantsPat) {
    if (token === undefined) {
      throw new DatabricksConfigError(
        `auth_type pat (from ${authType!.source}) needs a personal access token: DATABRICKS_TOKEN is not set, and ` +
          `${lacks(fileNote, 'token')}. Set DATABRICKS_TOKEN, or add token = <token> to the profile.`,
      );
    }
    return { type: 'pat', token: new DatabricksSecret(token.value), source: token.source };
  }
  if (wantsOAuth) {
    if (clientId === undefined || clientSecret === undefined) {
      const how =
        'A service principal needs both its client id and an OAuth secret: set DATABRICKS_CLIENT_ID and ' +
        'DATABRICKS_CLIENT_SECRET, or client_id and client_secret in the profile.';
      if (clientId === undefined && clientSecret === undefined) {
        throw new DatabricksConfigError(
          `auth_type oauth-m2m (from ${authType!.source}) needs client_id and client_secret: DATABRICKS_CLIENT_ID ` +
            `and DATABRICKS_CLIENT_SECRET are not set, and ${lacks(fileNote, 'client_id or client_secret')}. ${how}`,
        );
      }
      const [present, presentName, absent] =
        clientId === undefined
          ? [clientSecret!, 'client_secret', 'client_id' as const]
          : [clientId, 'client_id', 'client_secret' as const];
      throw new DatabricksConfigError(
        `${presentName} is set (from ${present.source}), but ${absent} is not: ${ENV_NAMES[absent]} is not set, and ` +
          `${lacks(fileNote, absent)}. ${how}`,
      );
    }
    return {
      type: 'oauth-m2m',
      clientId: clientId.value,
      clientSecret: new DatabricksSecret(clientSecret.value),
      source:
        clientId.source === clientSecret.source
          ? clientId.source
          : `${clientId.source} and ${clientSecret.source}`,
    };
  }
  throw new DatabricksConfigError(
    'No Databricks credentials are configured: none of DATABRICKS_TOKEN, DATABRICKS_CLIENT_ID and ' +
      `DATABRICKS_CLIENT_SECRET is set, and ${lacks(fileNote, 'token or client_id and client_secret')}. Set ` +
      'DATABRICKS_TOKEN to a personal access token, or DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET to a ' +
      'service principal OAuth secret, or put token, or client_id and client_secret, in the profile.',
  );
}

/** `https://` added when there is no scheme; trailing slashes, `:443`, query and fragment dropped. */
function normalizeHost(host: Found): string {
  const withScheme = host.value.includes('://') ? host.value : `https://${host.value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch (error) {
    throw new DatabricksConfigError(
      `The Databricks host ${host.value} (from ${host.source}) is not a URL. Set it to the workspace URL, ` +
        'https://<workspace>.cloud.databricks.com.',
      { cause: error },
    );
  }
  // URL already drops the default port of its scheme (:443 for https).
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}
