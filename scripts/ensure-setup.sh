#!/usr/bin/env bash
# Installs what a fresh clone on a fresh machine lacks, so that `npm test` and `npm run demo` work
# as the first command typed: the npm dependencies (including Node 22 itself, from the `node`
# package), a Java 17+ runtime for DynamoDB Local and, with `--tests`, sqlfluff, the SQL grammar the
# Databricks engine's statements are checked with (the demo does not need it). Quiet when
# everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.ddb-lake-installed
if [ ! -x node_modules/.bin/node ] || [ "$(cat "$stamp" 2>/dev/null)" != "$lock_hash" ]; then
  echo "ddb-lake setup: installing npm dependencies…" >&2
  # `npm install` rather than `npm ci`: it installs the locked versions too, and unlike `npm ci` it
  # does not refuse a lock file that lacks optional packages for other platforms (a registry mirror
  # without them leaves them out of the lock).
  npm install --no-audit --no-fund --loglevel=error >&2
  # npm may complete the lock file (optional packages of other platforms): stamp what it left.
  sha256sum package-lock.json | cut -d' ' -f1 > "$stamp"
fi

java_major() {
  java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1
}
if ! command -v java >/dev/null 2>&1 || [ "$(java_major)" -lt 17 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ddb-lake setup: installing a Java 17 runtime for DynamoDB Local (openjdk-17-jre-headless)…" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >&2
  else
    echo "ddb-lake setup: DynamoDB Local needs Java 17 or newer, and none was found." >&2
    echo "  Install one (Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless; macOS: brew install openjdk@17), then rerun." >&2
    exit 1
  fi
fi

# No Spark runs in the tests, so the Databricks engine's statements are checked by sqlfluff's
# databricks grammar. The stand-ins in test/databricks/grammar were written against Debian 12's
# package (1.4.5); another version fails the test that checks each stand-in is still needed.
if [ "${1:-}" = --tests ] && ! command -v sqlfluff >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ddb-lake setup: installing sqlfluff, the SQL grammar the Databricks tests check statements with…" >&2
    # The package lists may be fresh already (the Java step updates them): update only if needed.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sqlfluff >&2 ||
      { DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sqlfluff >&2; }
  else
    echo "ddb-lake setup: the Databricks SQL tests need sqlfluff, and none was found." >&2
    echo "  Install it (Debian/Ubuntu: sudo apt-get install sqlfluff; elsewhere: pipx install sqlfluff==1.4.5), then rerun." >&2
    exit 1
  fi
fi
