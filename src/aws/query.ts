// AWS's query protocol (IAM, STS), driven by the service model: form parameters to an operation's
// input (`Tags.member.1.Key=...`, `ClientIDList.member.2=...`, `Map.entry.1.key=...`), and an
// output structure to the XML the SDKs parse (`<member>` lists, ISO 8601 timestamps).
import type { Shape } from './shapes.ts';

/** A form parameter the model does not know, or a value of the wrong type. */
export class QueryDecodeError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(message);
    this.path = path;
  }
}

function scalar(shape: Shape, key: string, text: string): unknown {
  switch (shape.type) {
    case 'integer':
    case 'long':
    case 'double':
    case 'float': {
      // Decimal notation only, as the services parse numbers: no hex (`0x10`), no blanks, and
      // integers without a fraction or exponent, within their type's range.
      const integral = shape.type === 'integer' || shape.type === 'long';
      const n = Number(text);
      const ok = integral ? /^[-+]?\d+$/.test(text) && Number.isSafeInteger(n) && (shape.type === 'long' || (n >= -2147483648 && n <= 2147483647)) : /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) && Number.isFinite(n);
      if (!ok) throw new QueryDecodeError(key, `Value '${text.slice(0, 50)}' at '${key}' is not a valid number`);
      return n;
    }
    case 'boolean':
      if (text !== 'true' && text !== 'false') throw new QueryDecodeError(key, `Value '${text.slice(0, 50)}' at '${key}' is not a valid boolean`);
      return text === 'true';
    case 'timestamp': {
      const ms = /^\d+(\.\d+)?$/.test(text) ? Number(text) * 1000 : Date.parse(text);
      if (Number.isNaN(ms)) throw new QueryDecodeError(key, `Value '${text.slice(0, 50)}' at '${key}' is not a valid timestamp`);
      return ms / 1000;
    }
    default:
      return text;
  }
}

/** The parameters under `prefix.` (all of them for the empty prefix). */
function hasUnder(params: Map<string, string>, prefix: string): boolean {
  for (const k of params.keys()) if (k.startsWith(prefix)) return true;
  return false;
}

function decode(shapes: Record<string, Shape>, name: string, key: string, params: Map<string, string>, used: Set<string>): unknown {
  const shape = shapes[name];
  if (shape === undefined) throw new Error(`unknown shape ${name}`);
  switch (shape.type) {
    case 'structure': {
      const out: Record<string, unknown> = {};
      for (const [m, ref] of Object.entries(shape.members)) {
        const k = key === '' ? (ref.locationName ?? m) : `${key}.${ref.locationName ?? m}`;
        const v = decode(shapes, ref.shape, k, params, used);
        if (v !== undefined) out[m] = v;
      }
      return key !== '' && Object.keys(out).length === 0 ? undefined : out;
    }
    case 'list': {
      // `Name=` (empty) is how the SDKs send an empty list.
      if (params.get(key) === '') {
        used.add(key);
        return [];
      }
      if (!hasUnder(params, `${key}.member.`)) return undefined;
      const out: unknown[] = [];
      for (let i = 1; ; i++) {
        const v = decode(shapes, shape.member, `${key}.member.${i}`, params, used);
        if (v === undefined) break;
        out.push(v);
      }
      return out;
    }
    case 'map': {
      if (!hasUnder(params, `${key}.entry.`)) return undefined;
      const out: Record<string, unknown> = {};
      for (let i = 1; ; i++) {
        const k = decode(shapes, shape.key, `${key}.entry.${i}.key`, params, used);
        if (k === undefined) break;
        out[typeof k === 'string' ? k : JSON.stringify(k)] = decode(shapes, shape.value, `${key}.entry.${i}.value`, params, used);
      }
      return out;
    }
    default: {
      const text = params.get(key);
      if (text === undefined) return undefined;
      used.add(key);
      return scalar(shape, key, text);
    }
  }
}

/**
 * An operation's input from its form parameters (`Action` and `Version` aside). Unknown parameters
 * are an error, as AWS answers them; validation against the shape's constraints is the caller's.
 */
export function decodeQuery(shapes: Record<string, Shape>, inputShape: string | undefined, form: URLSearchParams): Record<string, unknown> {
  const params = new Map<string, string>();
  for (const [k, v] of form) if (k !== 'Action' && k !== 'Version' && !params.has(k)) params.set(k, v);
  if (inputShape === undefined) return {};
  const used = new Set<string>();
  const out = decode(shapes, inputShape, '', params, used) as Record<string, unknown>;
  for (const k of params.keys()) if (!used.has(k)) throw new QueryDecodeError(k, `Unknown parameter: ${k.slice(0, 100)}`);
  return out;
}

/** Characters XML 1.0 does not allow, even as references (controls, lone surrogates, U+FFFE/U+FFFF). */
const NOT_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** Text for an XML element or attribute: markup escaped, characters XML cannot carry (echoed from a bad request) replaced by U+FFFD. */
export function escapeXml(s: string): string {
  return s.replace(NOT_XML, '\uFFFD').replace(/[<>&"'\r]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;', '\r': '&#13;' })[c] as string);
}

/** AWS's timestamp form in XML: `2026-12-04T03:44:34Z` (milliseconds only when there are some). */
function isoSeconds(epochSeconds: number): string {
  return new Date(Math.round(epochSeconds * 1000)).toISOString().replace('.000Z', 'Z');
}

function encode(shapes: Record<string, Shape>, name: string, value: unknown): string {
  const shape = shapes[name];
  if (shape === undefined) throw new Error(`unknown shape ${name}`);
  switch (shape.type) {
    case 'structure': {
      const obj = value as Record<string, unknown>;
      let out = '';
      for (const [m, ref] of Object.entries(shape.members)) {
        const v = obj[m];
        if (v === undefined || v === null) continue;
        const tag = ref.locationName ?? m;
        out += `<${tag}>${encode(shapes, ref.shape, v)}</${tag}>`;
      }
      return out;
    }
    case 'list':
      return (value as unknown[]).map((v) => `<member>${encode(shapes, shape.member, v)}</member>`).join('');
    case 'map':
      return Object.entries(value as Record<string, unknown>)
        .map(([k, v]) => `<entry><key>${escapeXml(k)}</key><value>${encode(shapes, shape.value, v)}</value></entry>`)
        .join('');
    case 'timestamp':
      return isoSeconds(Number(value));
    case 'boolean':
      return value === true ? 'true' : 'false';
    default:
      return escapeXml(String(value));
  }
}

/**
 * The response document of an operation: `<{Action}Response xmlns=...>` holding its result wrapper
 * (when the operation has an output) and `<ResponseMetadata><RequestId>`.
 */
export function encodeQueryResponse(
  shapes: Record<string, Shape>,
  op: { output?: string; resultWrapper?: string },
  action: string,
  namespace: string,
  result: unknown,
  requestId: string,
): string {
  let body = '';
  if (op.output !== undefined) {
    const wrapper = op.resultWrapper ?? `${action}Result`;
    body = `<${wrapper}>${encode(shapes, op.output, result ?? {})}</${wrapper}>`;
  }
  body += `<ResponseMetadata><RequestId>${escapeXml(requestId)}</RequestId></ResponseMetadata>`;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${escapeXml(namespace)}">${body}</${action}Response>\n`;
}

/** AWS's query error document. `Sender` for the caller's mistakes, `Receiver` for the service's. */
export function encodeQueryError(namespace: string, type: 'Sender' | 'Receiver', code: string, message: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${escapeXml(namespace)}"><Error><Type>${type}</Type><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${escapeXml(requestId)}</RequestId></ErrorResponse>\n`;
}
