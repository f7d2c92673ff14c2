// Response headers the upstream client acts on: Retry-After (RFC 9110 section 10.2.3: delay-seconds
// or an HTTP-date) and Link (RFC 8288), which distribution-spec uses for `rel="next"` pagination of
// tag lists and referrers.

/** The wait Retry-After asks for, in milliseconds; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // An HTTP-date (IMF-fixdate or an obsolete form) always names a day or month.
  const at = /[A-Za-z]/.test(v) ? Date.parse(v) : Number.NaN;
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The absolute URL of the `rel="next"` link, resolved against the request URL. */
export function nextLink(value: string | null | undefined, requestUrl: string): string | undefined {
  if (value === null || value === undefined) return undefined;
  // link-value = "<" URI-Reference ">" *( OWS ";" OWS link-param ); link-values separated by commas.
  for (const m of value.matchAll(/<([^>]*)>([^<]*)/g)) {
    const params = m[2] ?? '';
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(params);
    const rels = (rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/);
    if (rels.includes('next')) return new URL(m[1] ?? '', requestUrl).toString();
  }
  return undefined;
}
