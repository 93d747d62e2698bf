import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { JavaRuntimeError, LocalStackErrorCode } from './errors.ts';

/** The Java feature release DynamoDB Local 2.3 and later need. */
export const MINIMUM_JAVA_VERSION = 17;

/** The `java` to run: `$JAVA_HOME/bin/java` when JAVA_HOME is set, else `java` from the PATH. */
export function javaCommand(): string {
  const home = process.env['JAVA_HOME'];
  return home ? join(home, 'bin', 'java') : 'java';
}

const javaChecks = new Map<string, Promise<void>>();

/**
 * Resolves when `java -version` reports Java 17 or newer. A success is remembered per command for
 * the life of the process; a failure is not, so installing Java fixes the next call.
 *
 * @throws JavaRuntimeError `LOCAL_JAVA_MISSING` or `LOCAL_JAVA_TOO_OLD`, saying what to install.
 */
export function checkJavaRuntime(java: string = javaCommand()): Promise<void> {
  let check = javaChecks.get(java);
  if (check === undefined) {
    check = runJavaCheck(java);
    javaChecks.set(java, check);
    check.catch(() => javaChecks.delete(java));
  }
  return check;
}

const INSTALL_JAVA =
  'Install Java 17 or newer (Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless; ' +
  'macOS: brew install openjdk@17), or run `bash scripts/ensure-setup.sh`, then try again.';

function runJavaCheck(java: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    execFile(java, ['-version'], { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error !== null && (error as NodeJS.ErrnoException).code === 'ENOENT') {
        const where = java === 'java' ? 'on the PATH' : `at ${java} (from JAVA_HOME)`;
        reject(
          new JavaRuntimeError(
            LocalStackErrorCode.javaMissing,
            `DynamoDB Local needs Java ${MINIMUM_JAVA_VERSION} or newer, and no java was found ${where}. ${INSTALL_JAVA}`,
            { cause: error },
          ),
        );
        return;
      }
      const text = `${stderr}\n${stdout}`;
      const major = javaMajorVersion(text);
      if (major === undefined || major < MINIMUM_JAVA_VERSION) {
        const found = major === undefined ? 'an unrecognised version' : `Java ${major}`;
        const firstLine = text.trim().split('\n')[0] ?? '';
        reject(
          new JavaRuntimeError(
            LocalStackErrorCode.javaTooOld,
            `DynamoDB Local needs Java ${MINIMUM_JAVA_VERSION} or newer, but ${java} is ${found} ` +
              `(\`${java} -version\` says: ${firstLine || 'nothing'}). ${INSTALL_JAVA}`,
            { cause: error ?? undefined },
          ),
        );
        return;
      }
      resolvePromise();
    });
  });
}

/** `version "17.0.15"` → 17, `version "1.8.0_292"` → 8. */
function javaMajorVersion(versionOutput: string): number | undefined {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(versionOutput);
  if (match === null) return undefined;
  const first = Number(match[1]);
  return first === 1 && match[2] !== undefined ? Number(match[2]) : first;
}
