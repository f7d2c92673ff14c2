// The shared OSV corpus and version-order vectors (read-only, next to the project: ../shared/vulndata;
// BERTH_VULNDATA overrides). Tests that need it skip with this message when it is absent; CI has it.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export const VULNDATA = process.env.BERTH_VULNDATA ?? resolve(import.meta.dirname, '../../../shared/vulndata');

/** `false` when the corpus is present, else the reason to skip (for node:test's `skip` option). */
export function vulndataMissing(): false | string {
  return existsSync(resolve(VULNDATA, 'osv')) ? false : `the OSV corpus is not at ${VULNDATA} (set BERTH_VULNDATA)`;
}
