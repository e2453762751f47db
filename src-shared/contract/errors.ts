import type { ErrorInfo } from './jobs.js';

/** Stable error codes; the CLI maps them to exit statuses and the UI to advice. */
export const ErrorCode = {
  invalidMessage: 'INVALID_MESSAGE',
  invalidParams: 'INVALID_PARAMS',
  unknownMethod: 'UNKNOWN_METHOD',
  notFound: 'NOT_FOUND',
  alreadyExists: 'ALREADY_EXISTS',
  badMedia: 'BAD_MEDIA',
  projectInvalid: 'PROJECT_INVALID',
  projectTooNew: 'PROJECT_TOO_NEW',
  projectBusy: 'PROJECT_BUSY',
  pathOutsideProject: 'PATH_OUTSIDE_PROJECT',
  stageUnavailable: 'STAGE_UNAVAILABLE',
  toolMissing: 'TOOL_MISSING',
  backendUnavailable: 'BACKEND_UNAVAILABLE',
  cancelled: 'CANCELLED',
  ioError: 'IO_ERROR',
  unauthorized: 'UNAUTHORIZED',
  engineGone: 'ENGINE_GONE',
  timeout: 'TIMEOUT',
  internal: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An error meant for the user: what went wrong, which file, and what to do. */
export class StudioError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;
  readonly file: string | undefined;
  readonly fix: string | undefined;
  readonly details: string | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    extra: { field?: string; file?: string; fix?: string; details?: string; cause?: unknown } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'StudioError';
    this.code = code;
    this.field = extra.field;
    this.file = extra.file;
    this.fix = extra.fix;
    this.details = extra.details;
  }

  toInfo(): ErrorInfo {
    const info: ErrorInfo = { code: this.code, message: this.message };
    if (this.field !== undefined) info.field = this.field;
    if (this.file !== undefined) info.file = this.file;
    if (this.fix !== undefined) info.fix = this.fix;
    if (this.details !== undefined) info.details = this.details;
    return info;
  }

  static fromInfo(info: ErrorInfo): StudioError {
    const known = Object.values(ErrorCode) as string[];
    const code = (known.includes(info.code) ? info.code : ErrorCode.internal) as ErrorCode;
    const extra: { field?: string; file?: string; fix?: string; details?: string } = {};
    if (info.field !== undefined) extra.field = info.field;
    if (info.file !== undefined) extra.file = info.file;
    if (info.fix !== undefined) extra.fix = info.fix;
    if (info.details !== undefined) extra.details = info.details;
    return new StudioError(code, info.message, extra);
  }
}

/** Any thrown value as ErrorInfo; unexpected errors keep their message but get the INTERNAL code. */
export function toErrorInfo(error: unknown): ErrorInfo {
  if (error instanceof StudioError) return error.toInfo();
  if (error instanceof Error) return { code: ErrorCode.internal, message: error.message };
  return { code: ErrorCode.internal, message: String(error) };
}
