export { type ApiCall, DatabricksApi } from './databricks-api.ts';
export {
  credentialsOf,
  type DatabricksTokenProvider,
  OAuthM2MTokenProvider,
  OIDC_TOKEN_PATH,
  patTokenProvider,
  tokenProviderFor,
} from './databricks-auth.ts';
export {
  type DatabricksAuth,
  type DatabricksConfig,
  DatabricksSecret,
  type ResolveDatabricksConfigOptions,
  resolveDatabricksConfig,
} from './databricks-config.ts';
export {
  DatabricksConfigError,
  DatabricksError,
  DatabricksErrorCode,
  DatabricksRequestError,
  type DatabricksRequestFailure,
  DatabricksStatementEndedError,
  DatabricksStatementError,
  DatabricksStatementInterruptedError,
  type InterruptedPhase,
  statementFirstLine,
} from './databricks-errors.ts';
export type {
  DatabricksEvent,
  DatabricksEventHandler,
  RetryingEvent,
  StatementCancelRequestedEvent,
  StatementFinishedEvent,
  StatementState,
  StatementSubmittedEvent,
} from './databricks-events.ts';
export { DEFAULT_RETRY_POLICY, type HttpDeps, httpDeps, type RetryPolicy } from './databricks-http.ts';
export { type DatabricksCfg, parseDatabricksCfg, profileNames } from './databrickscfg.ts';
export {
  type ExecuteOptions,
  type PollPolicy,
  type StatementColumn,
  StatementExecutionClient,
  type StatementExecutionClientOptions,
  type StatementParameter,
  type StatementParameterType,
  type StatementResult,
} from './statement-execution.ts';
export {
  DELETION_VECTORS_MINIMUM_RUNTIME,
  describeDetailStatement,
  normalizedLocation,
  parseUnityCatalogName,
  type RegisterTableOptions,
  type RegisterTableResult,
  registerTable,
  registerTableStatement,
  type StatementRunner,
  TableRegisterError,
  TableRegisterErrorCode,
  type TableRegisterEvent,
  TableRegisterEventCode,
  type UnityCatalogName,
  unityCatalogNameSql,
} from './table-register.ts';
