// The flags every command that opens the stores takes, as `berth serve` does: where the
// configuration is and the few settings a flag can override.
export const SERVE_FLAGS = {
  listen: { type: 'string' },
  'data-dir': { type: 'string' },
  config: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
} as const;

/** The serve flags among a command's parsed tokens, as arguments again (for configFromArgs). */
export function serveFlagArgs(tokens: ReadonlyArray<{ kind: string; name?: string; value?: string | undefined }>): string[] {
  const out: string[] = [];
  for (const t of tokens) if (t.kind === 'option' && t.name !== undefined && Object.hasOwn(SERVE_FLAGS, t.name) && t.value !== undefined) out.push(`--${t.name}`, t.value);
  return out;
}
