import assert from 'node:assert/strict';
import { test } from 'node:test';
import { osPurl, withDistro } from './common.ts';
import { osEcosystem, parseOsRelease, purlDistro, purlNamespace } from './os-release.ts';

test('parses quoted, single-quoted and unquoted values, skipping comments', () => {
  const text = [
    '# comment',
    'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"',
    'NAME="Debian GNU/Linux"',
    "VERSION_ID='12'",
    'VERSION="12 (bookworm)"',
    'VERSION_CODENAME=bookworm # trailing comment',
    'ID=debian',
    '',
    'not an assignment',
    'HOME_URL="https://www.debian.org/\\"quoted\\""',
  ].join('\n');
  assert.deepEqual(parseOsRelease(text), { id: 'debian', versionId: '12', versionCodename: 'bookworm', prettyName: 'Debian GNU/Linux 12 (bookworm)' });
  assert.deepEqual(parseOsRelease('ID="rhel"\nVERSION_ID="9.3"\n'), { id: 'rhel', versionId: '9.3' });
  assert.equal(parseOsRelease('NAME=nothing\n'), undefined);
  assert.equal(parseOsRelease('\u0000\u0001'), undefined);
});

test('maps releases to OSV ecosystems', () => {
  const cases: [string, string][] = [
    ['ID=debian\nVERSION_ID="12"', 'Debian:12'],
    ['ID=debian\nVERSION_CODENAME=trixie', 'Debian:13'],
    ['ID=debian\nVERSION_CODENAME=unknown', 'Debian'],
    ['ID=ubuntu\nVERSION_ID="22.04"', 'Ubuntu:22.04'],
    ['ID=alpine\nVERSION_ID=3.19.1', 'Alpine:v3.19'],
    ['ID=alpine\nVERSION_ID=3.20.0_alpha20240329', 'Alpine:v3.20'],
    ['ID="almalinux"\nVERSION_ID="9.3"', 'AlmaLinux:9'],
    ['ID="rocky"\nVERSION_ID="8.9"', 'Rocky Linux:8'],
    ['ID="rhel"\nVERSION_ID="9.3"', 'Red Hat'],
    ['ID=wolfi\nVERSION_ID=20230201', 'Wolfi'],
  ];
  for (const [text, ecosystem] of cases) {
    const os = parseOsRelease(text);
    assert.ok(os !== undefined);
    assert.equal(osEcosystem(os), ecosystem, text);
  }
});

test('OS package URLs get the release namespace and distro qualifier', () => {
  const deb = osPurl('deb', 'debian', 'libc6', '2.35-0ubuntu3.6', { arch: 'amd64' });
  assert.equal(deb, 'pkg:deb/debian/libc6@2.35-0ubuntu3.6?arch=amd64');
  const ubuntu = { id: 'ubuntu', versionId: '22.04' };
  assert.equal(withDistro(deb, purlNamespace(ubuntu), purlDistro(ubuntu)), 'pkg:deb/ubuntu/libc6@2.35-0ubuntu3.6?arch=amd64&distro=ubuntu-22.04');
  const rpm = osPurl('rpm', 'redhat', 'openssl-libs', '3.0.7-27.el9', { epoch: '1', arch: 'x86_64' });
  assert.equal(rpm, 'pkg:rpm/redhat/openssl-libs@3.0.7-27.el9?arch=x86_64&epoch=1');
  const rhel = { id: 'rhel', versionId: '9.3' };
  assert.equal(withDistro(rpm, purlNamespace(rhel), purlDistro(rhel)), 'pkg:rpm/redhat/openssl-libs@3.0.7-27.el9?arch=x86_64&distro=rhel-9.3&epoch=1');
  const sid = { id: 'debian', versionCodename: 'trixie' };
  assert.equal(withDistro('pkg:deb/debian/a@1', purlNamespace(sid), purlDistro(sid)), 'pkg:deb/debian/a@1?distro=debian-trixie');
  assert.equal(withDistro('pkg:deb/debian/a@1', 'debian', undefined), 'pkg:deb/debian/a@1');
  assert.equal(withDistro('not a purl', 'x', 'y'), 'not a purl');
});
