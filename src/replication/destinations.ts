// How berth reaches each replication destination region (the `replication.destinations` key): a
// mapping from region to the endpoint of the berth serving it and the access key berth signs with
// there, or (beyond ECR) to any OCI registry and its credentials. Given as a JSON or YAML mapping, in
// the configuration file or as a string (BERTH_REPLICATION_DESTINATIONS). This deployment's own
// region needs no entry: its destinations are other accounts here, reached in-process.
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const origin = z
  .string()
  .url()
  .refine((u) => {
    const p = new URL(u);
    return (p.protocol === 'http:' || p.protocol === 'https:') && p.username === '' && p.password === '' && (p.pathname === '/' || p.pathname === '') && p.search === '';
  }, 'an http(s) URL without path, query or credentials, such as https://berth-west.example.com:5000')
  .transform((u) => new URL(u).origin);

const BerthDestination = z.strictObject({
  type: z.literal('berth'),
  endpoint: origin,
  accessKeyId: z.string().regex(/^[A-Z0-9]{16,128}$/, 'an access key id'),
  secretAccessKey: z.string().min(16),
});

const OciDestination = z.strictObject({
  type: z.literal('oci'),
  endpoint: origin,
  username: z.string().optional(),
  password: z.string().optional(),
});

const Destinations = z.record(z.string(), z.discriminatedUnion('type', [BerthDestination, OciDestination]));
/** ECR's pattern of a region name (the `region` of a replication destination). */
const REGION_RE = /^[0-9a-z-]{2,25}$/;

/** A berth deployment serving another region (its ECR API and /v2/ at `endpoint`). */
export type BerthDestination = z.output<typeof BerthDestination>;
/** Any OCI distribution registry (CNCF Distribution, Harbor, ...), with Basic or token credentials. */
export type OciDestination = z.output<typeof OciDestination>;
export type DestinationEndpoint = BerthDestination | OciDestination;
export type DestinationMap = ReadonlyMap<string, DestinationEndpoint>;

/**
 * The destinations as configured: a mapping, or its JSON or YAML text. Throws an Error saying what
 * is wrong (without echoing secrets).
 */
export function parseDestinations(value: string | Record<string, unknown> | undefined): DestinationMap {
  if (value === undefined) return new Map();
  let raw: unknown = value;
  if (typeof value === 'string') {
    if (value.trim() === '') return new Map();
    try {
      raw = parseYaml(value);
    } catch (e) {
      throw new Error(`not a JSON or YAML mapping: ${(e as Error).message.split('\n')[0] ?? ''}`, { cause: e });
    }
  }
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    for (const region of Object.keys(raw)) if (!REGION_RE.test(region)) throw new Error(`"${region.slice(0, 40)}" is not a region name such as us-west-2`);
    // The `type` discriminator defaults to berth.
    raw = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, typeof v === 'object' && v !== null && !('type' in v) ? { ...v, type: 'berth' } : v]));
  }
  const r = Destinations.safeParse(raw);
  if (!r.success) {
    const first = r.error.issues[0];
    throw new Error(`${first?.path.join('.') || '(top level)'}: ${first?.message ?? 'invalid'}`);
  }
  return new Map(Object.entries(r.data));
}
