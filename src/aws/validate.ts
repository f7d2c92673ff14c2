// Validation of an AWS JSON-protocol input against its model shape: required members, types, enums,
// patterns (matched against the whole value, as the services do), lengths and ranges. Returns the
// first violation in the words ECR uses, or null.
import type { Shape } from './shapes.ts';

export interface Violation {
  path: string;
  message: string;
}

const patternCache = new Map<string, RegExp>();

export function fullMatch(pattern: string): RegExp {
  let re = patternCache.get(pattern);
  if (re === undefined) {
    // The models' patterns are Java regular expressions: most compile in Unicode mode, and the few
    // that escape characters Unicode mode refuses (`\-`) mean the same without it.
    try {
      re = new RegExp(`^(?:${pattern})$`, 'u');
    } catch {
      re = new RegExp(`^(?:${pattern})$`);
    }
    patternCache.set(pattern, re);
  }
  return re;
}

/**
 * The decoded length of canonical base64 text (groups of 4, `=` padding only at the end), or -1.
 * Node's decoder skips characters outside the alphabet, so text with any of them decodes to fewer
 * bytes than its length promises: one decode checks the alphabet and the length at once, several
 * times faster than a regular expression over a multi-megabyte layer part.
 */
export function base64Length(text: string): number {
  // Node's decoder also takes the URL-safe alphabet's `-` and `_`.
  if (text.length % 4 !== 0 || text.includes('-') || text.includes('_')) return -1;
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const expected = (text.length / 4) * 3 - pad;
  if (Buffer.from(text, 'base64').length !== expected) return -1;
  // `=` inside the text ends Node's decoding early, which the length check above catches too.
  return expected;
}

function describe(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > 100 ? `${s.slice(0, 100)}...` : s;
}

export function validateShape(shapes: Record<string, Shape>, shapeName: string, value: unknown, path = ''): Violation | null {
  const shape = shapes[shapeName];
  if (shape === undefined) return null;
  const at = path === '' ? shapeName : path;
  const bad = (message: string): Violation => ({ path: at, message });
  if (value === null || value === undefined) return null;
  switch (shape.type) {
    case 'structure': {
      if (typeof value !== 'object' || Array.isArray(value)) return bad('must be a structure');
      const obj = value as Record<string, unknown>;
      for (const r of shape.required ?? []) {
        if (obj[r] === undefined || obj[r] === null) return { path: path === '' ? r : `${path}.${r}`, message: 'must not be null' };
      }
      for (const [name, m] of Object.entries(shape.members)) {
        if (obj[name] === undefined) continue;
        const v = validateShape(shapes, m.shape, obj[name], path === '' ? name : `${path}.${name}`);
        if (v !== null) return v;
      }
      return null;
    }
    case 'list': {
      if (!Array.isArray(value)) return bad('must be a list');
      if (shape.min !== undefined && value.length < shape.min) return bad(`must have length greater than or equal to ${shape.min}`);
      if (shape.max !== undefined && value.length > shape.max) return bad(`must have length less than or equal to ${shape.max}`);
      for (const [i, item] of value.entries()) {
        const v = validateShape(shapes, shape.member, item, `${at}.${i + 1}.member`);
        if (v !== null) return v;
      }
      return null;
    }
    case 'map': {
      if (typeof value !== 'object' || Array.isArray(value)) return bad('must be a map');
      const entries = Object.entries(value as Record<string, unknown>);
      if (shape.min !== undefined && entries.length < shape.min) return bad(`must have at least ${shape.min} entries`);
      if (shape.max !== undefined && entries.length > shape.max) return bad(`must have at most ${shape.max} entries`);
      for (const [k, v] of entries) {
        const kv = validateShape(shapes, shape.key, k, `${at}.key`);
        if (kv !== null) return kv;
        const vv = validateShape(shapes, shape.value, v, `${at}.${k}`);
        if (vv !== null) return vv;
      }
      return null;
    }
    case 'string': {
      if (typeof value !== 'string') return bad('must be a string');
      if (shape.enum !== undefined && !shape.enum.includes(value)) return bad(`must satisfy enum value set: [${shape.enum.join(', ')}]`);
      if (shape.min !== undefined && value.length < shape.min) return bad(`must have length greater than or equal to ${shape.min}`);
      if (shape.max !== undefined && value.length > shape.max) return bad(`must have length less than or equal to ${shape.max}`);
      if (shape.pattern !== undefined && !fullMatch(shape.pattern).test(value)) return bad(`must satisfy regular expression '${shape.pattern}'`);
      return null;
    }
    case 'integer':
    case 'long':
    case 'double':
    case 'float': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return bad('must be a number');
      if ((shape.type === 'integer' || shape.type === 'long') && !Number.isInteger(value)) return bad('must be an integer');
      if (shape.min !== undefined && value < shape.min) return bad(`must be greater than or equal to ${shape.min}`);
      if (shape.max !== undefined && value > shape.max) return bad(`must be less than or equal to ${shape.max}`);
      return null;
    }
    case 'boolean':
      return typeof value === 'boolean' ? null : bad('must be a boolean');
    case 'timestamp':
      return typeof value === 'number' || typeof value === 'string' ? null : bad('must be a timestamp');
    case 'blob': {
      if (typeof value !== 'string') return bad('must be base64-encoded');
      const n = base64Length(value);
      if (n < 0) return bad('must be base64-encoded');
      if (shape.min !== undefined && n < shape.min) return bad(`must have length greater than or equal to ${shape.min}`);
      if (shape.max !== undefined && n > shape.max) return bad(`must have length less than or equal to ${shape.max}`);
      return null;
    }
  }
}

/** ECR's wording: "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must ...'". */
export function violationMessage(v: Violation, value?: unknown): string {
  return `Invalid parameter at '${v.path}' failed to satisfy constraint: '${v.message}'${value === undefined ? '' : ` (value: ${describe(value)})`}`;
}
