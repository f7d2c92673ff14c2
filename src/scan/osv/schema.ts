// Validation of one OSV advisory (https://ossf.github.io/osv-schema/, schema 1.x) into berth's OsvRecord.
// Structure follows the OSV JSON Schema: `id` and `modified` required; `affected[].ranges[]` with a
// `type` and `events`, each event exactly one of introduced / fixed / last_affected / limit; string
// arrays for `versions`, `aliases`, `related`; `severity` entries {type, score}; the `*_specific`
// objects kept as they are. Fields berth does not use (schema_version, credits, upstream, ...) are
// dropped, and `null` where the schema allows it (aliases, affected, references, severity) becomes
// absent. Deliberately looser than the JSON Schema where real databases are: GIT commits may be
// short or non-hex (7 pypa records), ranges need no `introduced` event and GIT ranges no `repo`,
// ecosystems, range types and id prefixes outside the schema's current lists are accepted (the lists
// grow), and `fixed` may sit beside `last_affected`. Matching and severity decide what they use.
import { z } from 'zod';
import type { OsvEvent, OsvRecord } from '../types.ts';

/** The largest OSV record (JSON bytes) berth reads; real ones stay well under 1 MiB. */
export const MAX_OSV_RECORD_BYTES = 4 * 1024 * 1024;

const EVENT_KINDS = ['introduced', 'fixed', 'last_affected', 'limit'] as const;
const isKind = (k: string | undefined): k is (typeof EVENT_KINDS)[number] => (EVENT_KINDS as readonly unknown[]).includes(k);

const text = z.string();
const nonEmpty = z.string().min(1, 'must not be empty');
// RFC 3339 date-time, as the schema's `timestamp` (which also wants UTC: offsets are tolerated).
const timestamp = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/, 'must be an RFC 3339 timestamp such as 2024-01-31T12:00:00Z')
  .refine((s) => !Number.isNaN(Date.parse(s)), 'is not a valid date');
const stringList = z.array(text);
const object = z.record(z.string(), z.unknown());
/** A field the schema allows to be null: null reads as absent. */
const orNull = <T extends z.ZodType>(schema: T) => schema.nullish().transform((v) => v ?? undefined);

const severity = orNull(z.array(z.object({ type: nonEmpty, score: text })));

const event = object.transform((e, ctx): OsvEvent => {
  const keys = Object.keys(e);
  const [kind] = keys;
  if (keys.length !== 1 || !isKind(kind)) {
    ctx.addIssue({ code: 'custom', message: `must have exactly one of ${EVENT_KINDS.join(', ')} (has ${keys.length === 0 ? 'none' : keys.join(' and ')})` });
    return z.NEVER;
  }
  const version = e[kind];
  if (typeof version !== 'string') {
    ctx.addIssue({ code: 'custom', path: [kind], message: `must be a string, not ${describeValue(version)}` });
    return z.NEVER;
  }
  return { [kind]: version } as OsvEvent;
});

const range = z.object({
  type: nonEmpty,
  repo: text.optional(),
  events: z.array(event).min(1, 'must have at least one event'),
  database_specific: object.optional(),
});

const affected = z.object({
  package: z.object({ ecosystem: nonEmpty, name: nonEmpty, purl: text.optional() }).optional(),
  severity,
  ranges: z.array(range).optional(),
  versions: stringList.optional(),
  ecosystem_specific: object.optional(),
  database_specific: object.optional(),
});

const record = z.object({
  id: z
    .string()
    .max(256, 'must be at most 256 characters')
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:+-]*$/, 'must be letters, digits and . _ : + - (such as GHSA-xxxx-xxxx-xxxx or ALSA-2023:0946)'),
  modified: timestamp,
  published: timestamp.optional(),
  withdrawn: timestamp.optional(),
  aliases: orNull(stringList),
  related: stringList.optional(),
  summary: text.optional(),
  details: text.optional(),
  severity,
  affected: orNull(z.array(affected.transform(withoutUndefined))),
  references: orNull(z.array(z.object({ type: text, url: text }))),
  database_specific: object.optional(),
});

/** Checks one parsed JSON value against the OSV structure and returns berth's record of it. */
export function parseOsvRecord(value: unknown): { ok: true; record: OsvRecord } | { ok: false; error: string } {
  const r = record.safeParse(value, { error: describeIssue });
  if (r.success) return { ok: true, record: withoutUndefined(r.data) };
  return { ok: false, error: r.error.issues.slice(0, 3).map((i) => `${jsonPath(i.path)}: ${i.message}`).join('; ') };
}

/** `parseOsvRecord` of a file's bytes: refuses more than `maxBytes` and text that is not JSON. */
export function parseOsvJson(bytes: Buffer, maxBytes = MAX_OSV_RECORD_BYTES): { ok: true; record: OsvRecord } | { ok: false; error: string } {
  if (bytes.length > maxBytes) return { ok: false, error: `record is ${bytes.length} bytes, more than the ${maxBytes} allowed` };
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    return { ok: false, error: `not JSON: ${(e as Error).message}` };
  }
  return parseOsvRecord(value);
}

function withoutUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** `$.affected[0].ranges[1]` for zod's ['affected', 0, 'ranges', 1]. */
function jsonPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : `${s}.${String(k)}`), '$');
}

/** Zod's messages for missing and mistyped values, in the words of a JSON document. */
function describeIssue(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code !== 'invalid_type') return undefined;
  if (issue.input === undefined) return 'is required';
  return `must be ${withArticle(issue.expected === 'record' ? 'object' : issue.expected)}, not ${describeValue(issue.input)}`;
}

function describeValue(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : withArticle(typeof v);
}

function withArticle(noun: string): string {
  return `${/^[aeiou]/.test(noun) ? 'an' : 'a'} ${noun}`;
}
