// The OS package extractors: dpkg (Debian, Ubuntu, distroless), apk (Alpine, Wolfi) and rpm's
// SQLite database (Fedora, RHEL, AlmaLinux, Rocky 9+). They report the package manager's family
// (`Debian`, `Alpine`, `Red Hat`); the inventory builder sets the release from os-release.
import type { Extractor } from '../../types.ts';
import { apkExtractor } from './apk.ts';
import { dpkgExtractor } from './dpkg.ts';
import { rpmExtractor } from './rpm.ts';

export { apkExtractor, dpkgExtractor, rpmExtractor };

export function defaultOsExtractors(): Extractor[] {
  return [dpkgExtractor, apkExtractor, rpmExtractor];
}
