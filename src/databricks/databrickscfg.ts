/*
 * The Databricks configuration file (`~/.databrickscfg`): INI sections, one per profile, read the
 * way the Databricks SDKs read it (Python's configparser, Go's ini): `[name]` starts a profile,
 * `key = value` or `key: value` sets a key, lines starting with `#` or `;` are comments. Keys are
 * lowercased as configparser does; values are trimmed. `[__settings__]` holds tool settings
 * (`default_profile`), not a profile.
 */

/** The reserved section of tool settings, never a profile. */
export const SETTINGS_SECTION = '__settings__';

/** A parsed configuration file: its sections in file order, each a map of lowercased keys. */
export interface DatabricksCfg {
  readonly sections: ReadonlyMap<string, ReadonlyMap<string, string>>;
}

/**
 * Parses the text of a configuration file. Keys before the first section header are ignored, as
 * configparser refuses them and Go's ini puts them in a section no SDK reads. A section that
 * appears twice merges, later keys winning. Indented lines continue the previous value.
 */
export function parseDatabricksCfg(text: string): DatabricksCfg {
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  let lastKey: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(trimmed);
    if (header !== null) {
      const name = header[1]!.trim();
      current = sections.get(name) ?? new Map();
      sections.set(name, current);
      lastKey = undefined;
      continue;
    }
    if (current === undefined) continue;
    if (/^\s/.test(raw) && lastKey !== undefined) {
      current.set(lastKey, `${current.get(lastKey)}\n${trimmed}`);
      continue;
    }
    const separator = trimmed.search(/[=:]/);
    if (separator <= 0) continue;
    lastKey = trimmed.slice(0, separator).trim().toLowerCase();
    current.set(lastKey, trimmed.slice(separator + 1).trim());
  }
  return { sections };
}

/**
 * The profiles of a file, in file order: every section but `[__settings__]`, and `[DEFAULT]` only
 * when it has keys (an empty `[DEFAULT]` is no profile to configparser).
 */
export function profileNames(cfg: DatabricksCfg): string[] {
  return [...cfg.sections]
    .filter(([name, keys]) => name !== SETTINGS_SECTION && !(name === 'DEFAULT' && keys.size === 0))
    .map(([name]) => name);
}
