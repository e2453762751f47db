import { ErrorCode, StudioError, toErrorInfo, type ErrorInfo } from '../../src-shared/contract/index.js';

/** Exit statuses scripts can rely on. */
export const EXIT = { ok: 0, failed: 1, usage: 2, cancelled: 130 } as const;

export function exitCodeFor(error: ErrorInfo): number {
  if (error.code === ErrorCode.invalidParams || error.code === ErrorCode.invalidMessage) return EXIT.usage;
  if (error.code === ErrorCode.cancelled) return EXIT.cancelled;
  return EXIT.failed;
}

/** Prints results: one JSON object as the last stdout line with --json, readable text otherwise. */
export class Output {
  constructor(readonly json: boolean) {}

  get interactive(): boolean {
    return !this.json && Boolean(process.stdout.isTTY);
  }

  info(line: string): void {
    if (!this.json) process.stdout.write(`${line}\n`);
    else process.stderr.write(`${line}\n`);
  }

  warn(line: string): void {
    process.stderr.write(`${line}\n`);
  }

  result(value: Record<string, unknown>, human: () => string): void {
    if (this.json) process.stdout.write(`${JSON.stringify(value)}\n`);
    else process.stdout.write(`${human()}\n`);
  }

  error(error: unknown): number {
    const info = toErrorInfo(error);
    if (this.json) process.stdout.write(`${JSON.stringify({ error: info })}\n`);
    else {
      process.stderr.write(`error: ${info.message}\n`);
      if (info.file) process.stderr.write(`  file: ${info.file}\n`);
      if (info.fix) process.stderr.write(`  fix: ${info.fix}\n`);
      if (info.details) process.stderr.write(`  details: ${info.details.replace(/\n/g, '\n    ')}\n`);
    }
    return exitCodeFor(info);
  }
}

export function usageError(message: string, field?: string): StudioError {
  return new StudioError(ErrorCode.invalidParams, message, field ? { field } : {});
}
