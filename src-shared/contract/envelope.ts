import { z } from 'zod';
import { EngineEvent } from './events.js';
import { ErrorInfo } from './jobs.js';
import { methods, type MethodName, type ParsedParamsOf, type ResultOf } from './methods.js';
import { ErrorCode, StudioError } from './errors.js';

/** Bumped when the wire format changes incompatibly; both ends check it on hello. */
export const PROTOCOL_VERSION = 1;

const RequestId = z.union([z.string().min(1).max(100), z.number().int()]);

export const RequestEnvelope = z.object({
  kind: z.literal('request'),
  id: RequestId,
  method: z.string().min(1).max(100),
  params: z.unknown(),
});
export type RequestEnvelope = z.infer<typeof RequestEnvelope>;

export const ResponseEnvelope = z.discriminatedUnion('ok', [
  z.object({ kind: z.literal('response'), id: RequestId.nullable(), ok: z.literal(true), result: z.unknown() }),
  z.object({ kind: z.literal('response'), id: RequestId.nullable(), ok: z.literal(false), error: ErrorInfo }),
]);
export type ResponseEnvelope = z.infer<typeof ResponseEnvelope>;

export const EventEnvelope = z.object({ kind: z.literal('event'), event: EngineEvent });
export type EventEnvelope = z.infer<typeof EventEnvelope>;

/** What an engine sends: replies and events. */
export const EngineToClient = z.union([ResponseEnvelope, EventEnvelope]);
export type EngineToClient = z.infer<typeof EngineToClient>;

function describeIssue(issue: z.core.$ZodIssue, prefix: string): { field: string; message: string } {
  const field = [prefix, ...issue.path.map(String)].filter((p) => p !== '').join('.');
  return { field: field === '' ? '(root)' : field, message: issue.message };
}

/** Parse with a schema or throw a StudioError naming the first offending field. */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  value: unknown,
  code: ErrorCode,
  prefix: string,
): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const first = parsed.error.issues[0];
  const { field, message } = first ? describeIssue(first, prefix) : { field: prefix, message: 'invalid value' };
  const more = parsed.error.issues.length > 1 ? ` (and ${parsed.error.issues.length - 1} more problem(s))` : '';
  throw new StudioError(code, `${field}: ${message}${more}`, { field });
}

export function isMethodName(name: string): name is MethodName {
  return Object.hasOwn(methods, name);
}

/** Validate an incoming request envelope and its params; throws StudioError with the field at fault. */
export function parseRequest(raw: unknown): { id: string | number; method: MethodName; params: unknown } {
  const envelope = parseOrThrow(RequestEnvelope, raw, ErrorCode.invalidMessage, '');
  if (!isMethodName(envelope.method)) {
    throw new StudioError(ErrorCode.unknownMethod, `method: unknown method "${envelope.method}"`, {
      field: 'method',
      fix: `use one of: ${Object.keys(methods).join(', ')}`,
    });
  }
  const params = parseOrThrow(
    methods[envelope.method].params,
    envelope.params === undefined ? {} : envelope.params,
    ErrorCode.invalidParams,
    'params',
  );
  return { id: envelope.id, method: envelope.method, params };
}

export function parseParams<M extends MethodName>(method: M, params: unknown): ParsedParamsOf<M> {
  return parseOrThrow(
    methods[method].params,
    params === undefined ? {} : params,
    ErrorCode.invalidParams,
    'params',
  ) as ParsedParamsOf<M>;
}

export function parseResult<M extends MethodName>(method: M, result: unknown): ResultOf<M> {
  return parseOrThrow(methods[method].result, result, ErrorCode.invalidMessage, 'result') as ResultOf<M>;
}

/** Best-effort id of a message that failed validation, so the error reply can still be matched. */
export function salvageRequestId(raw: unknown): string | number | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const id = (raw as { id?: unknown }).id;
  return RequestId.safeParse(id).success ? (id as string | number) : null;
}
