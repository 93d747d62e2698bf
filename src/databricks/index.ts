export * from './databricks-api.ts';
export * from './databricks-auth.ts';
export * from './databricks-config.ts';
export * from './databricks-errors.ts';
export * from './databricks-events.ts';
export * from './databricks-http.ts';
export * from './databrickscfg.ts';
export * from './statement-execution.ts';
