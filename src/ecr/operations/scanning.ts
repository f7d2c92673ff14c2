// Image scanning operations: the registry's scanning configuration (Put/GetRegistryScanningConfiguration,
// BatchGetRepositoryScanningConfiguration), StartImageScan (a job; IN_PROGRESS at once) and
// DescribeImageScanFindings (status, severity counts and the findings: `findings` for BASIC scans,
// `enhancedFindings` as Inspector reports them for ENHANCED ones; pages of maxResults).
import { repositoryArn } from '../../auth/index.ts';
import type { ImageScan, Repository } from '../../meta/index.ts';
import { scanningConfigurationProblem, type RegistryScanningConfiguration } from '../../scan/config.ts';
import { unsupportedReason } from '../../scan/service.ts';
import type { Inventory } from '../../scan/types.ts';
import type { Finding } from '../../scan/vulndb.ts';
import type { EcrContext } from '../context.ts';
import { EcrException } from '../errors.ts';
import type { EnhancedImageScanFinding, ImageIdentifier, ImageScanFinding, ImageScanFindings, ImageScanStatus, OperationName, RepositoryScanningConfiguration } from '../generated/model.ts';
import { defineOperation, type EcrOperation } from '../operation.ts';
import { decodeToken, encodeToken, epochSeconds, findRepository } from '../shapes.ts';
import { checkImageId, echoId, imageNotFound, resolveImageId } from './image-support.ts';

const PutRegistryScanningConfiguration = defineOperation('PutRegistryScanningConfiguration', async (ctx, input) => {
  await ctx.authorize('ecr:PutRegistryScanningConfiguration');
  const config: RegistryScanningConfiguration = {
    scanType: input.scanType ?? 'BASIC',
    rules: (input.rules ?? []).map((r) => ({ scanFrequency: r.scanFrequency, repositoryFilters: r.repositoryFilters.map((f) => ({ filter: f.filter, filterType: f.filterType })) })),
  };
  const problem = scanningConfigurationProblem(config);
  if (problem !== undefined) throw new EcrException('InvalidParameterException', `Invalid parameter at 'rules': ${problem}`);
  await ctx.meta.accountPolicies.put(ctx.accountId, 'scanning', JSON.stringify(config), ctx.now());
  ctx.log.info({ account: ctx.accountId, scanType: config.scanType, rules: config.rules.length }, 'registry scanning configuration set');
  return { registryScanningConfiguration: config };
});

const GetRegistryScanningConfiguration = defineOperation('GetRegistryScanningConfiguration', async (ctx) => {
  await ctx.authorize('ecr:GetRegistryScanningConfiguration');
  return { registryId: ctx.accountId, scanningConfiguration: await ctx.scans.configuration(ctx.accountId) };
});

const BatchGetRepositoryScanningConfiguration = defineOperation('BatchGetRepositoryScanningConfiguration', async (ctx, input) => {
  const scanningConfigurations: RepositoryScanningConfiguration[] = [];
  const failures: Array<{ repositoryName: string; failureCode: 'REPOSITORY_NOT_FOUND'; failureReason: string }> = [];
  for (const name of new Set(input.repositoryNames)) {
    await ctx.authorize('ecr:BatchGetRepositoryScanningConfiguration', name);
    const repo = await ctx.meta.repositories.get(ctx.accountId, name);
    if (repo === undefined) {
      failures.push({ repositoryName: name, failureCode: 'REPOSITORY_NOT_FOUND', failureReason: 'REPOSITORY_NOT_FOUND' });
      continue;
    }
    const s = await ctx.scans.repositoryScanning(repo);
    scanningConfigurations.push({ repositoryArn: repositoryArn(ctx.region, repo.accountId, repo.name), repositoryName: repo.name, scanOnPush: s.scanOnPush, scanFrequency: s.scanFrequency, appliedScanFilters: s.appliedScanFilters });
  }
  return { scanningConfigurations, failures };
});

/** The image an identifier names, as the scanning operations need it (ImageNotFoundException otherwise). */
async function scannedImage(ctx: EcrContext, repo: Repository, id: ImageIdentifier): Promise<{ digest: string; mediaType: string; configMediaType: string | null; archived: boolean }> {
  const checked = checkImageId(id);
  if (!checked.ok) throw new EcrException('InvalidParameterException', `Invalid parameter at 'imageId': ${checked.reason}`);
  const r = await resolveImageId(ctx.meta, repo, checked);
  if (!r.ok) {
    if (r.code === 'ImageNotFound') throw imageNotFound(id, repo);
    throw new EcrException('InvalidParameterException', `Invalid parameter at 'imageId': ${r.reason}`);
  }
  const m = await ctx.meta.manifests.get(repo.id, r.digest);
  if (m === undefined) throw imageNotFound(id, repo);
  let configMediaType: string | null = null;
  if (m.configDigest !== null) {
    try {
      configMediaType = (JSON.parse(m.body.toString('utf8')) as { config?: { mediaType?: string } }).config?.mediaType ?? null;
    } catch {
      configMediaType = null;
    }
  }
  return { digest: r.digest, mediaType: m.mediaType, configMediaType, archived: m.status !== 'ACTIVE' };
}

const StartImageScan = defineOperation('StartImageScan', async (ctx, input) => {
  await ctx.authorize('ecr:StartImageScan', input.repositoryName);
  const repo = await findRepository(ctx, input.repositoryName);
  const image = await scannedImage(ctx, repo, input.imageId);
  if (image.archived) throw new EcrException('ImageArchivedException', `The image ${image.digest} in the repository with name '${repo.name}' is archived; restore it before scanning it`);
  const why = unsupportedReason(image.mediaType, image.configMediaType);
  if (why !== undefined) throw new EcrException('UnsupportedImageTypeException', `The image ${image.digest} cannot be scanned: ${why}`);
  const { scanType } = await ctx.scans.repositoryScanning(repo);
  await ctx.scans.start(repo, image.digest, scanType);
  return { registryId: repo.accountId, repositoryName: repo.name, imageId: { ...echoId(input.imageId), imageDigest: image.digest }, imageScanStatus: { status: 'IN_PROGRESS' as const } };
});

/** ImageScanStatus of a stored scan. */
export function scanStatusOf(scan: ImageScan): ImageScanStatus {
  return { status: scan.status, ...(scan.description !== null ? { description: scan.description } : {}) };
}

function basicFinding(f: Finding): ImageScanFinding {
  const attributes = [
    { key: 'package_version', value: f.package.version },
    { key: 'package_name', value: f.package.name },
  ];
  if (f.score !== undefined && f.vector !== undefined) {
    const v = f.cvssVersion === 'CVSS_V2' ? '2' : f.cvssVersion === 'CVSS_V4' ? '4' : '3';
    attributes.push({ key: `CVSS${v}_VECTOR`, value: f.vector }, { key: `CVSS${v}_SCORE`, value: String(f.score) });
  }
  if (f.fixedIn !== undefined) attributes.push({ key: 'fixed_in_version', value: f.fixedIn });
  return {
    name: f.name,
    ...(f.summary !== undefined || f.description !== undefined ? { description: f.summary ?? f.description } : {}),
    ...(f.references[0] !== undefined ? { uri: f.references[0] } : {}),
    severity: f.severity,
    attributes,
  };
}

const PACKAGE_MANAGERS: Record<string, string> = {
  Debian: 'OS',
  Ubuntu: 'OS',
  Alpine: 'OS',
  AlmaLinux: 'OS',
  'Rocky Linux': 'OS',
  'Red Hat': 'OS',
  npm: 'NPM',
  PyPI: 'PYTHONPKG',
  RubyGems: 'GEMSPEC',
  Maven: 'JAR',
  Go: 'GOBINARY',
  'crates.io': 'CARGO',
  NuGet: 'NUGET',
  Packagist: 'COMPOSER',
};

function enhancedFinding(ctx: EcrContext, repo: Repository, digest: string, f: Finding, completedAt: number): EnhancedImageScanFinding {
  const family = f.package.ecosystem.split(':')[0] ?? f.package.ecosystem;
  const cvss = f.score !== undefined && f.vector !== undefined ? [{ baseScore: f.score, scoringVector: f.vector, source: 'OSV', version: f.cvssVersion === 'CVSS_V2' ? '2.0' : f.cvssVersion === 'CVSS_V4' ? '4.0' : '3.1' }] : [];
  const findingId = Buffer.from(`${repo.accountId}/${repo.name}@${digest}/${f.package.ecosystem}/${f.package.name}/${f.package.version}/${f.package.path}/${f.name}`).toString('base64url').slice(0, 64);
  return {
    awsAccountId: repo.accountId,
    description: f.description ?? f.summary ?? f.name,
    findingArn: `arn:aws:inspector2:${ctx.region}:${repo.accountId}:finding/${findingId}`,
    firstObservedAt: epochSeconds(f.firstObservedAt),
    lastObservedAt: epochSeconds(completedAt),
    packageVulnerabilityDetails: {
      cvss,
      referenceUrls: f.references,
      relatedVulnerabilities: f.ids.filter((id) => id !== f.name),
      source: family,
      ...(f.references[0] !== undefined ? { sourceUrl: f.references[0] } : {}),
      ...(f.published !== undefined && !Number.isNaN(Date.parse(f.published)) ? { vendorCreatedAt: epochSeconds(Date.parse(f.published)) } : {}),
      vendorSeverity: f.severity,
      ...(!Number.isNaN(Date.parse(f.modified)) ? { vendorUpdatedAt: epochSeconds(Date.parse(f.modified)) } : {}),
      vulnerabilityId: f.name,
      vulnerablePackages: [
        {
          name: f.package.name,
          version: f.package.version,
          ...(f.package.arch !== undefined ? { arch: f.package.arch } : {}),
          packageManager: PACKAGE_MANAGERS[family] ?? family.toUpperCase(),
          filePath: f.package.path,
          sourceLayerHash: f.package.layerDigest,
          ...(f.fixedIn !== undefined ? { fixedInVersion: f.fixedIn } : {}),
        },
      ],
    },
    remediation: { recommendation: { text: f.fixedIn !== undefined ? `Upgrade ${f.package.name} to ${f.fixedIn} or later.` : 'None provided' } },
    resources: [
      {
        id: `arn:aws:ecr:${ctx.region}:${repo.accountId}:repository/${repo.name}/${digest}`,
        type: 'AWS_ECR_CONTAINER_IMAGE',
        details: { awsEcrContainerImage: { imageHash: digest, registry: repo.accountId, repositoryName: repo.name } },
      },
    ],
    ...(f.score !== undefined ? { score: f.score } : {}),
    ...(f.score !== undefined && f.vector !== undefined ? { scoreDetails: { cvss: { score: f.score, scoreSource: 'OSV', scoringVector: f.vector, version: cvss[0]?.version ?? '3.1', adjustments: [] } } } : {}),
    severity: f.severity,
    status: 'ACTIVE',
    title: `${f.name} - ${f.package.name}`,
    type: 'PACKAGE_VULNERABILITY',
    updatedAt: epochSeconds(completedAt),
    fixAvailable: f.fixedIn !== undefined ? 'YES' : 'NO',
  };
}

const DescribeImageScanFindings = defineOperation('DescribeImageScanFindings', async (ctx, input) => {
  await ctx.authorize('ecr:DescribeImageScanFindings', input.repositoryName);
  const repo = await findRepository(ctx, input.repositoryName);
  const image = await scannedImage(ctx, repo, input.imageId);
  const scan = await ctx.scans.get(repo, image.digest);
  if (scan === undefined) {
    throw new EcrException('ScanNotFoundException', `Image scan does not exist for the image with '{imageDigest:'${image.digest}', imageTag:'${input.imageId.imageTag ?? 'null'}'}' in the repository with name '${repo.name}' in the registry with id '${repo.accountId}'`);
  }
  const head = { registryId: repo.accountId, repositoryName: repo.name, imageId: { ...echoId(input.imageId), imageDigest: image.digest }, imageScanStatus: scanStatusOf(scan) };
  if (scan.status !== 'COMPLETE') return head;
  const all = (scan.findings ?? []) as Finding[];
  const max = input.maxResults ?? 100;
  const from = Number(decodeToken(input.nextToken) ?? '0');
  if (!Number.isSafeInteger(from) || from < 0) throw new EcrException('InvalidParameterException', "Invalid parameter at 'nextToken' failed to satisfy constraint: 'must be a token from a previous response'");
  const page = all.slice(from, from + max);
  const completedAt = scan.completedAt ?? ctx.now();
  const findings: ImageScanFindings = {
    imageScanCompletedAt: epochSeconds(completedAt),
    ...(scan.dataUpdatedAt !== null ? { vulnerabilitySourceUpdatedAt: epochSeconds(scan.dataUpdatedAt) } : {}),
    findingSeverityCounts: scan.counts ?? {},
    ...(scan.scanType === 'ENHANCED' ? { enhancedFindings: page.map((f) => enhancedFinding(ctx, repo, image.digest, f, completedAt)) } : { findings: page.map(basicFinding) }),
  };
  return { ...head, imageScanFindings: findings, ...(from + max < all.length ? { nextToken: encodeToken(String(from + max)) } : {}) };
});

/** The inventory of an image's last scan (berth's SBOM API and CLI read it). */
export function inventoryOf(scan: ImageScan | undefined): Inventory | undefined {
  return scan?.status === 'COMPLETE' && scan.inventory !== null ? (scan.inventory as Inventory) : undefined;
}

export const SCANNING_OPERATIONS = [PutRegistryScanningConfiguration, GetRegistryScanningConfiguration, BatchGetRepositoryScanningConfiguration, StartImageScan, DescribeImageScanFindings] as ReadonlyArray<
  EcrOperation<OperationName>
>;
