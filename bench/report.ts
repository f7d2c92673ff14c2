// Result types, statistics and the printed table.
import { caseTitle, type CaseDef } from './cases.ts';
import type { ServerName } from './servers.ts';

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
}

export interface PhaseResult {
  phase: 'push' | 'pull';
  ops: number;
  bytes: number;
  seconds: number;
  /** 10^6 bytes per second. */
  mbPerSec: number;
  opsPerSec: number;
  /** Latency of one whole operation (push: POST + [PATCH...] + PUT; pull: GET with the full body). */
  latency: LatencySummary;
  /** Latency of the individual HTTP requests, by method. */
  requests: Record<string, LatencySummary>;
  /** Largest VmRSS of the server process sampled every 100 ms during the phase. */
  maxRssKiB: number | null;
  /** VmHWM of the server process at the end of the phase (peak since the process started). */
  hwmKiB: number | null;
  /** What the pull checked: `sha256` (size and digest) or `size`; `-` for pushes. */
  check: 'sha256' | 'size' | '-';
}

export interface CaseRun {
  server: ServerName;
  caseId: number;
  title: string;
  phases: PhaseResult[];
  /** `ok`, `skipped`, or why the manifest push failed. */
  manifest: string;
  error?: string;
}

export function summarize(values: readonly number[]): LatencySummary {
  if (values.length === 0) return { count: 0, p50Ms: 0, p99Ms: 0, meanMs: 0, maxMs: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? 0;
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    p50Ms: round(at(0.5)),
    p99Ms: round(at(0.99)),
    meanMs: round(sum / sorted.length),
    maxMs: round(sorted[sorted.length - 1] ?? 0),
  };
}

function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export function formatMs(ms: number): string {
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

function formatRate(n: number): string {
  if (n >= 100) return n.toFixed(0);
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

function formatKiB(kib: number | null): string {
  return kib === null ? '-' : `${(kib / 1024).toFixed(0)} MiB`;
}

export function ratio(runs: readonly CaseRun[], caseId: number, phase: 'push' | 'pull'): number | undefined {
  const find = (server: ServerName): PhaseResult | undefined =>
    runs.find((r) => r.server === server && r.caseId === caseId)?.phases.find((p) => p.phase === phase);
  const b = find('berth');
  const d = find('distribution');
  if (b === undefined || d === undefined || d.mbPerSec === 0) return undefined;
  return b.mbPerSec / d.mbPerSec;
}

export function phaseLine(server: ServerName, c: CaseDef, p: PhaseResult): string {
  return (
    `[${server}] case ${c.id} ${p.phase}: ${formatRate(p.mbPerSec)} MB/s, ${formatRate(p.opsPerSec)} ops/s, ` +
    `p50 ${formatMs(p.latency.p50Ms)}, p99 ${formatMs(p.latency.p99Ms)}, ${p.seconds.toFixed(2)} s, ` +
    `RSS max ${formatKiB(p.maxRssKiB)}`
  );
}

/** The results as an aligned text table, one row per case x phase x server. */
export function renderTable(cases: readonly CaseDef[], servers: readonly ServerName[], runs: readonly CaseRun[]): string {
  const header = ['case', 'phase', 'server', 'MB/s', 'ops/s', 'p50', 'p99', 'berth/dist', 'RSS max', 'VmHWM', 'pull check'];
  const rightAligned = new Set([3, 4, 5, 6, 7, 8, 9]);
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const c of cases) {
    const label = `${c.id}: ${caseTitle(c)}`;
    let first = true;
    for (const phase of ['push', 'pull'] as const) {
      for (const server of servers) {
        const run = runs.find((r) => r.server === server && r.caseId === c.id);
        const p = run?.phases.find((x) => x.phase === phase);
        const lead = [first ? label : '', phase, server];
        first = false;
        if (p === undefined) {
          const why = run?.error === undefined ? 'not run' : 'FAILED';
          rows.push([...lead, why, '', '', '', '', '', '', '']);
          continue;
        }
        const r = server === 'berth' ? ratio(runs, c.id, phase) : undefined;
        rows.push([
          ...lead,
          formatRate(p.mbPerSec),
          formatRate(p.opsPerSec),
          formatMs(p.latency.p50Ms),
          formatMs(p.latency.p99Ms),
          r === undefined ? '' : `${r.toFixed(2)}x`,
          formatKiB(p.maxRssKiB),
          formatKiB(p.hwmKiB),
          p.check,
        ]);
      }
    }
  }
  // One note per server and distinct message (a server that did not start fails every case the same way).
  for (const server of servers) {
    const byMessage = new Map<string, number[]>();
    const add = (msg: string, id: number): void => void byMessage.set(msg, [...(byMessage.get(msg) ?? []), id]);
    for (const c of cases) {
      const run = runs.find((r) => r.server === server && r.caseId === c.id);
      if (run?.error !== undefined) add(`FAILED: ${run.error}`, c.id);
      else if (run !== undefined && run.manifest !== 'ok' && run.manifest !== 'skipped') {
        add(`manifest push failed (not timed): ${run.manifest}`, c.id);
      }
    }
    for (const [msg, ids] of byMessage) notes.push(`${server}, case${ids.length > 1 ? 's' : ''} ${ids.join(',')}: ${msg}`);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (rightAligned.has(i) ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const lines = [fmt(header), widths.map((w) => '-'.repeat(w)).join('  ')];
  let prevCase = '';
  for (const row of rows) {
    if (row[0] !== '' && prevCase !== '') lines.push('');
    if (row[0] !== '') prevCase = row[0] ?? '';
    lines.push(fmt(row));
  }

  const ratios: Record<'push' | 'pull', number[]> = { push: [], pull: [] };
  for (const c of cases) {
    for (const phase of ['push', 'pull'] as const) {
      const r = ratio(runs, c.id, phase);
      if (r !== undefined && r > 0) ratios[phase].push(r);
    }
  }
  const all = [...ratios.push, ...ratios.pull];
  if (all.length > 0) {
    const g = (xs: number[]): string =>
      xs.length === 0 ? '-' : `${Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length).toFixed(2)}x`;
    lines.push('', `berth/Distribution throughput, geometric mean: push ${g(ratios.push)}, pull ${g(ratios.pull)}, all ${g(all)}`);
  }
  if (notes.length > 0) lines.push('', ...notes);
  return lines.join('\n');
}
