// The benchmark workload: six cases, each run against every server with the same client.

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export interface CaseDef {
  readonly id: number;
  /** Number of blobs. */
  readonly count: number;
  /** Size of each blob in bytes. */
  readonly size: number;
  /** Requests in flight at once (and sockets in the client's agent). */
  readonly concurrency: number;
  /** `monolithic`: POST + PUT with the body; `chunked`: POST + PATCH per chunk + PUT. */
  readonly mode: 'monolithic' | 'chunked';
  /** Chunk size for chunked uploads. */
  readonly chunkSize?: number;
  /** `--scale` shrinks the number of blobs (many small blobs) or their size (few large ones). */
  readonly scaleBy: 'count' | 'size';
  /** Pulls of this case always check the sha256 (small blobs: hashing costs little); others only with --verify. */
  readonly alwaysVerify: boolean;
}

export const CASES: readonly CaseDef[] = [
  { id: 1, count: 1000, size: 4 * KiB, concurrency: 16, mode: 'monolithic', scaleBy: 'count', alwaysVerify: true },
  { id: 2, count: 200, size: 1 * MiB, concurrency: 8, mode: 'monolithic', scaleBy: 'count', alwaysVerify: true },
  { id: 3, count: 8, size: 64 * MiB, concurrency: 4, mode: 'monolithic', scaleBy: 'size', alwaysVerify: false },
  { id: 4, count: 2, size: 512 * MiB, concurrency: 1, mode: 'monolithic', scaleBy: 'size', alwaysVerify: false },
  {
    id: 5,
    count: 8,
    size: 64 * MiB,
    concurrency: 4,
    mode: 'chunked',
    chunkSize: 8 * MiB,
    scaleBy: 'size',
    alwaysVerify: false,
  },
  { id: 6, count: 1, size: 2 * GiB, concurrency: 1, mode: 'monolithic', scaleBy: 'size', alwaysVerify: false },
];

/** The case shrunk by `scale` (0 < scale <= 1): counts or sizes, keeping chunks per blob for chunked cases. */
export function scaleCase(def: CaseDef, scale: number): CaseDef {
  if (scale === 1) return def;
  if (def.scaleBy === 'count') {
    return { ...def, count: Math.max(1, Math.round(def.count * scale)) };
  }
  if (def.chunkSize !== undefined) {
    const chunkSize = Math.max(1, Math.round(def.chunkSize * scale));
    return { ...def, chunkSize, size: chunkSize * Math.ceil(def.size / def.chunkSize) };
  }
  return { ...def, size: Math.max(1, Math.round(def.size * scale)) };
}

export function caseTitle(c: CaseDef): string {
  const what = `${c.count} x ${formatBytes(c.size)}`;
  const how =
    c.mode === 'chunked' && c.chunkSize !== undefined ? `chunked ${formatBytes(c.chunkSize)}` : 'monolithic';
  return `${what}, ${how}, c=${c.concurrency}`;
}

export function repoFor(c: CaseDef): string {
  return `bench/case${c.id}`;
}

export function formatBytes(n: number): string {
  const units: Array<[number, string]> = [
    [GiB, 'GiB'],
    [MiB, 'MiB'],
    [KiB, 'KiB'],
  ];
  for (const [size, unit] of units) {
    if (n >= size) {
      const v = n / size;
      return `${Number.isInteger(v) ? v : v.toFixed(v < 10 ? 2 : 1)} ${unit}`;
    }
  }
  return `${n} B`;
}
