/*
 * Bundles the capture Lambda into one ES module file, ready to zip:
 *
 *   npm run build:lambda [-- out-folder]      (default dist/lambda/, giving dist/lambda/index.mjs)
 *
 * Everything is bundled, the AWS SDK included, so the function runs the SDK versions the tests ran
 * rather than whichever the runtime happens to ship. deploy/template.json points its `Code` at the
 * folder and its `Handler` at `index.handler`.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = path.resolve(import.meta.dirname, '..');

/** The bundle's entry point and the Lambda `Handler` that names it. */
export const LAMBDA_ENTRY = path.join(ROOT, 'src/capture/lambda-handler.ts');
export const LAMBDA_FILE = 'index.mjs';
export const LAMBDA_HANDLER = 'index.handler';
export const DEFAULT_LAMBDA_FOLDER = path.join(ROOT, 'dist/lambda');

/**
 * Writes `<folder>/index.mjs`, the capture handler and every dependency in one minified ES module
 * for Node 22, with its source map beside it. Throws esbuild's error when the sources do not build.
 */
export async function buildLambda(
  folder: string = DEFAULT_LAMBDA_FOLDER,
): Promise<{ file: string; bytes: number }> {
  const file = path.join(path.resolve(folder), LAMBDA_FILE);
  await build({
    entryPoints: [LAMBDA_ENTRY],
    outfile: file,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    // ES module builds of the AWS SDK bundle smaller than its CommonJS ones.
    mainFields: ['module', 'main'],
    minify: true,
    keepNames: true,
    sourcemap: true,
    legalComments: 'none',
    logLevel: 'warning',
    // CommonJS code inside the bundle calls require() for Node built-ins; an ES module has none.
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
  });
  return { file, bytes: (await stat(file)).size };
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { file, bytes } = await buildLambda(process.argv[2]);
  console.log(
    `wrote ${path.relative(process.cwd(), file)} (${(bytes / 1024).toFixed(0)} KiB); Handler: ${LAMBDA_HANDLER}`,
  );
}
