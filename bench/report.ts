// Result types, statistics and the printed table.
import { caseTitle, type CaseDef } from './cases.ts';
import type { Routing } from './client.ts';
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
  /** Number of server processes sampled, when more than one (maxRssKiB and hwmKiB are then the largest of any one). */
  processes?: number;
  /** Largest sum of VmRSS over the processes at one sampling instant, when more than one. */
  maxTotalRssKiB?: number | null;
  /** Where the requests went, when to more than one host (several processes, or redirects to the store). */
  routing?: Routing;
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

export function phaseLine(label: string, c: CaseDef, p: PhaseResult): string {
  const sum = p.maxTotalRssKiB === undefined ? '' : ` (sum over ${p.processes ?? '?'} processes ${formatKiB(p.maxTotalRssKiB)})`;
  const r = p.routing;
  const routing =
    r === undefined
      ? ''
      : `; requests ${Object.entries(r.requestsByHost)
          .map(([host, n]) => `${host} ${n}`)
          .join(', ')}` +
        (p.phase === 'push' ? `; pushes across processes ${r.pushesAcrossHosts}/${p.ops}` : `; redirects followed ${r.redirectsFollowed}/${p.ops}`);
  return (
    `[${label}] case ${c.id} ${p.phase}: ${formatRate(p.mbPerSec)} MB/s, ${formatRate(p.opsPerSec)} ops/s, ` +
    `p50 ${formatMs(p.latency.p50Ms)}, p99 ${formatMs(p.latency.p99Ms)}, ${p.seconds.toFixed(2)} s, ` +
    `RSS max ${formatKiB(p.maxRssKiB)}${sum}${routing}`
  );
}

/** Rows as aligned text: a header, a rule, and a blank line before each row that starts a new group (non-empty first cell). */
function layout(header: readonly string[], rows: readonly string[][], rightAligned: ReadonlySet<number>): string[] {
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
  return lines;
}

function geomean(xs: readonly number[]): string {
  return xs.length === 0 ? '-' : `${Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length).toFixed(2)}x`;
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
  const lines = layout(header, rows, rightAligned);

  const ratios: Record<'push' | 'pull', number[]> = { push: [], pull: [] };
  for (const c of cases) {
    for (const phase of ['push', 'pull'] as const) {
      const r = ratio(runs, c.id, phase);
      if (r !== undefined && r > 0) ratios[phase].push(r);
    }
  }
  const all = [...ratios.push, ...ratios.pull];
  if (all.length > 0) {
    lines.push('', `berth/Distribution throughput, geometric mean: push ${geomean(ratios.push)}, pull ${geomean(ratios.pull)}, all ${geomean(all)}`);
  }
  if (notes.length > 0) lines.push('', ...notes);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// The scale-out suite

/** The scale-out configurations, by number (see bench/README.md). */
export type ScaleoutConfigId = 1 | 2 | 3 | 4;

export interface ScaleoutRun {
  config: ScaleoutConfigId;
  /** Short name of the configuration (table column). */
  configuration: string;
  caseId: number;
  title: string;
  phases: PhaseResult[];
  /** `ok`, `skipped`, or why the manifest push failed. */
  manifest: string;
  error?: string;
}

/** MB/s of configuration `a` ÷ MB/s of configuration `b` for one case and phase. */
export function scaleoutRatio(
  runs: readonly ScaleoutRun[],
  caseId: number,
  phase: 'push' | 'pull',
  a: ScaleoutConfigId,
  b: ScaleoutConfigId,
): number | undefined {
  const find = (config: ScaleoutConfigId): PhaseResult | undefined =>
    runs.find((r) => r.config === config && r.caseId === caseId)?.phases.find((p) => p.phase === phase);
  const x = find(a);
  const y = find(b);
  if (x === undefined || y === undefined || y.mbPerSec === 0) return undefined;
  return x.mbPerSec / y.mbPerSec;
}

/** The ratio columns: name, numerator and denominator configuration, phases it is shown for. */
export const SCALEOUT_RATIOS: ReadonlyArray<{
  column: string;
  name: string;
  a: ScaleoutConfigId;
  b: ScaleoutConfigId;
  phases: ReadonlyArray<'push' | 'pull'>;
}> = [
  { column: '3p/1p', name: '3 processes / 1 process', a: 2, b: 1, phases: ['push', 'pull'] },
  { column: 'berth/dist', name: 'berth 1 process / Distribution s3', a: 1, b: 3, phases: ['push', 'pull'] },
  { column: 'redirect on/off', name: 'berth 1 process, redirect on / off', a: 4, b: 1, phases: ['pull'] },
];

/**
 * The scale-out results, one row per case x phase x configuration. Each ratio sits on the row of its
 * numerator: 3p/1p on the 3-process rows, berth/dist on the berth 1-process rows, redirect on/off on
 * the pull rows of the redirect configuration.
 */
export function renderScaleoutTable(
  cases: readonly CaseDef[],
  configs: ReadonlyArray<{ id: ScaleoutConfigId; name: string }>,
  runs: readonly ScaleoutRun[],
): string {
  const header = [
    'case',
    'phase',
    'configuration',
    'MB/s',
    'ops/s',
    'p50',
    'p99',
    ...SCALEOUT_RATIOS.map((r) => r.column),
    'RSS max',
    'RSS sum',
    'pull check',
  ];
  const rightAligned = new Set(Array.from({ length: header.length - 4 }, (_, i) => i + 3));
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const c of cases) {
    const label = `${c.id}: ${caseTitle(c)}`;
    let first = true;
    for (const phase of ['push', 'pull'] as const) {
      for (const config of configs) {
        const run = runs.find((r) => r.config === config.id && r.caseId === c.id);
        const p = run?.phases.find((x) => x.phase === phase);
        const lead = [first ? label : '', phase, config.name];
        first = false;
        if (p === undefined) {
          rows.push([...lead, run?.error === undefined ? 'not run' : 'FAILED', ...Array<string>(header.length - 4).fill('')]);
          continue;
        }
        const ratios = SCALEOUT_RATIOS.map((def) => {
          if (def.a !== config.id || !def.phases.includes(phase)) return '';
          const r = scaleoutRatio(runs, c.id, phase, def.a, def.b);
          return r === undefined ? '' : `${r.toFixed(2)}x`;
        });
        rows.push([
          ...lead,
          formatRate(p.mbPerSec),
          formatRate(p.opsPerSec),
          formatMs(p.latency.p50Ms),
          formatMs(p.latency.p99Ms),
          ...ratios,
          formatKiB(p.maxRssKiB),
          p.maxTotalRssKiB === undefined ? '' : formatKiB(p.maxTotalRssKiB),
          p.check,
        ]);
      }
    }
  }
  for (const config of configs) {
    const byMessage = new Map<string, number[]>();
    const add = (msg: string, id: number): void => void byMessage.set(msg, [...(byMessage.get(msg) ?? []), id]);
    for (const c of cases) {
      const run = runs.find((r) => r.config === config.id && r.caseId === c.id);
      if (run?.error !== undefined) add(`FAILED: ${run.error}`, c.id);
      else if (run !== undefined && run.manifest !== 'ok' && run.manifest !== 'skipped') {
        add(`manifest push failed (not timed): ${run.manifest}`, c.id);
      }
    }
    for (const [msg, ids] of byMessage) notes.push(`${config.name}, case${ids.length > 1 ? 's' : ''} ${ids.join(',')}: ${msg}`);
  }
  const lines = layout(header, rows, rightAligned);

  const summary: string[] = [];
  for (const def of SCALEOUT_RATIOS) {
    const by: Record<'push' | 'pull', number[]> = { push: [], pull: [] };
    for (const c of cases) {
      for (const phase of def.phases) {
        const r = scaleoutRatio(runs, c.id, phase, def.a, def.b);
        if (r !== undefined && r > 0) by[phase].push(r);
      }
    }
    const all = [...by.push, ...by.pull];
    if (all.length === 0) continue;
    const parts = def.phases.map((phase) => `${phase} ${geomean(by[phase])}`);
    if (def.phases.length > 1) parts.push(`all ${geomean(all)}`);
    summary.push(`${def.column}: ${def.name} (MB/s), geometric mean: ${parts.join(', ')}`);
  }
  if (summary.length > 0) lines.push('', ...summary);
  if (notes.length > 0) lines.push('', ...notes);
  return lines.join('\n');
}
