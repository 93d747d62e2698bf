#!/usr/bin/env node
import { runCli } from './program.ts';

// A reader that stops early (`ddb-lake … | head`) is not an error of ours.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exitCode ??= 0;
  });
}

process.exitCode = await runCli(process.argv);
