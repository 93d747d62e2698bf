/** Small renderers shared by the commands' human output. Pure. */

/** `12,345` */
export function count(value: number): string {
  return value.toLocaleString('en-US');
}

/** `1.2 s` or `340 ms` */
export function duration(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

/** `12,345 items/s` over `ms` milliseconds. */
export function rate(amount: number, ms: number, unit: string): string {
  return `${count(Math.round((amount * 1000) / Math.max(ms, 1)))} ${unit}/s`;
}

/** `1.5 MB` (decimal megabytes, as S3 and DynamoDB bill them). */
export function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}
