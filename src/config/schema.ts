// The one configuration schema. Every key can come from the YAML file (--config / BERTH_CONFIG),
// from a BERTH_* environment variable (the key path in SCREAMING_SNAKE_CASE, for example
// storage.filesystem.root -> BERTH_STORAGE_FILESYSTEM_ROOT), or from a command-line flag for the few
// that have one. Precedence: flags > environment > file > defaults.
import { z } from 'zod';
import { parseDuration } from './duration.ts';
import { parseRates } from '../core/throttle.ts';
import { parseDestinations } from '../replication/destinations.ts';

const duration = (def: string) =>
  z
    .union([z.string(), z.number()])
    .default(def)
    .transform((v, ctx) => {
      try {
        return parseDuration(v);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
        return z.NEVER;
      }
    });

const bool = (def: boolean) =>
  z
    .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])])
    .default(def)
    .transform((v) => v === true || v === 'true' || v === '1' || v === 'yes');

const int = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);

export const ConfigSchema = z
  .strictObject({
    listen: z.string().default('0.0.0.0:5000').describe('Address and port to listen on (host:port).'),
    dataDir: z.string().default('./data').describe('Directory for the embedded database, blobs and generated credentials.'),
    publicUrl: z.string().url().optional().describe('The address clients use to reach berth (used in login hints and repository URIs). Defaults to http(s)://<listen address>.'),
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'a region such as us-east-1').default('us-east-1').describe('The AWS region this deployment serves.'),
    accountId: z.string().regex(/^\d{12}$/, 'a 12-digit account id').optional().describe('Registry id (12 digits) of the default account, used on first start; generated when unset.'),
    root: z
      .strictObject({
        accessKeyId: z.string().regex(/^[A-Z0-9]{16,128}$/, '16-128 uppercase letters and digits').optional().describe('Access key id of the default account\'s root credentials. Generated on first start when unset.'),
        secretAccessKey: z.string().min(16).max(128).optional().describe('Secret access key of the root credentials (at least 16 characters).'),
      })
      .prefault({}),
    tls: z
      .strictObject({
        cert: z.string().optional().describe('PEM certificate file; with tls.key, serve HTTPS.'),
        key: z.string().optional().describe('PEM private key file.'),
      })
      .prefault({}),
    log: z
      .strictObject({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('Log level.'),
      })
      .prefault({}),
    storage: z
      .strictObject({
        driver: z.enum(['filesystem', 's3']).default('filesystem').describe('Where blobs are stored: the local filesystem or an S3-compatible object store.'),
        filesystem: z
          .strictObject({
            root: z.string().optional().describe('Directory for blob storage; <dataDir>/storage when unset.'),
            fsync: bool(true).describe('fsync blobs before they become visible (turn off only for throwaway test registries).'),
          })
          .prefault({}),
        s3: z
          .strictObject({
            endpoint: z.string().url().optional().describe('S3 endpoint URL for stores that are not AWS (Ceph RGW, MinIO, R2, ...); AWS S3 when unset.'),
            region: z.string().default('us-east-1').describe('Region of the bucket.'),
            bucket: z.string().optional().describe('Bucket (required when storage.driver is s3).'),
            prefix: z.string().regex(/^([^/].*\/)?$/, 'empty, or ending in / without a leading /').default('').describe('Key prefix inside the bucket, ending in "/".'),
            forcePathStyle: bool(false).describe('Path-style addressing (needed by most stores that are not AWS).'),
            accessKeyId: z.string().optional().describe('Static credentials; the AWS SDK default chain (environment, profile, instance role) when unset.'),
            secretAccessKey: z.string().optional().describe('Secret of the static credentials.'),
            sessionToken: z.string().optional().describe('Session token of temporary static credentials.'),
            serverSideEncryption: z.enum(['AES256', 'aws:kms']).optional().describe('Server-side encryption of stored objects.'),
            sseKmsKeyId: z.string().optional().describe('KMS key for serverSideEncryption aws:kms.'),
            storageClass: z.string().optional().describe('Storage class of stored objects (STANDARD, INTELLIGENT_TIERING, ...).'),
            partSize: z.coerce.number().int().min(5 * 1024 * 1024).max(5 * 1024 * 1024 * 1024).default(16 * 1024 * 1024).describe('Multipart upload part size in bytes (at least 5 MiB).'),
            maxAttempts: int(5, 1, 20).describe('Attempts per S3 request, with backoff, before an error is returned.'),
          })
          .prefault({}),
        redirect: z
          .strictObject({
            enabled: bool(false).describe('Answer blob GETs with a redirect to a presigned URL of the store, so bytes do not pass through berth (S3 only).'),
            expiry: duration('20m').describe('How long a presigned URL stays valid.'),
          })
          .prefault({}),
      })
      .prefault({}),
    database: z
      .strictObject({
        driver: z.enum(['sqlite', 'postgres']).default('sqlite').describe('Metadata database.'),
        sqlite: z
          .strictObject({
            path: z.string().optional().describe('SQLite file; <dataDir>/berth.db when unset.'),
            synchronous: z.enum(['NORMAL', 'FULL']).default('NORMAL').describe('SQLite synchronous mode: NORMAL survives process crashes, FULL also power loss.'),
          })
          .prefault({}),
        postgres: z
          .strictObject({
            url: z.string().optional().describe('PostgreSQL connection URL (postgres://user@host:5432/db).'),
            poolSize: int(10, 1, 1000).describe('Connections in the pool.'),
            statementTimeout: duration('30s').describe('Statement timeout.'),
          })
          .prefault({}),
      })
      .prefault({}),
    uploads: z
      .strictObject({
        purgeAfter: duration('24h').describe('Abandoned uploads older than this are deleted.'),
        purgeInterval: duration('1h').describe('How often abandoned uploads are looked for.'),
      })
      .prefault({}),
    gc: z
      .strictObject({
        enabled: bool(true).describe('Collect garbage online: blobs no repository holds and links no manifest uses are deleted by the gc.collect job (docs/adr/0014-online-garbage-collection.md).'),
        gracePeriod: duration('1h').describe(
          'How long an uploaded or mounted blob is kept without a manifest using it (a push has this long between its blobs and its manifest), and how long after its last manifest goes a link stays.',
        ),
        interval: duration('5m').describe('How often the collector decides the candidates that are due.'),
      })
      .prefault({}),
    lifecycle: z
      .strictObject({
        interval: duration('1h').describe('How often every repository\'s lifecycle policy is applied (the lifecycle.run job; ECR evaluates policies at least once a day).'),
      })
      .prefault({}),
    scanning: z
      .strictObject({
        sources: z
          .string()
          .default('')
          .describe(
            'OSV vulnerability data to fetch on a schedule: comma-separated URLs of osv.dev-style exports (a zip of <id>.json files, such as https://osv-vulnerabilities.storage.googleapis.com/<Ecosystem>/all.zip, or one JSON record). Empty: data comes only from `berth vulndb import`.',
          ),
        syncInterval: duration('24h').describe('How often the sources are fetched (the vulndb.sync job); a source that cannot be reached is retried at the next interval and the data already loaded stays.'),
      })
      .prefault({}),
    pullThroughCache: z
      .strictObject({
        upstreamTimeout: duration('30s').describe('How long berth waits for an upstream registry to answer, or to send the next bytes of a blob, before it gives up (the partial blob is discarded, never cached).'),
        revalidateAfter: duration('24h').describe('How long a tag cached through a pull-through cache rule is served before it is compared with the upstream again (ECR: 24 hours). Pulls by digest never go upstream once cached; a failing upstream leaves the cached copy served.'),
      })
      .prefault({}),
    replication: z
      .strictObject({
        destinations: z
          .union([z.string(), z.record(z.string(), z.unknown())])
          .optional()
          .superRefine((v, ctx) => {
            try {
              parseDestinations(v);
            } catch (e) {
              ctx.addIssue({ code: 'custom', message: (e as Error).message });
            }
          })
          .describe(
            'How berth reaches the regions replication rules name (PutReplicationConfiguration): a JSON or YAML mapping from region to destination. `{"us-west-2": {"endpoint": "https://berth-west:5000", "accessKeyId": "AKIA...", "secretAccessKey": "..."}}` is the berth serving us-west-2 and an access key there, either of the destination account or of the source account (which the destination registry policy must then grant ecr:ReplicateImage, and ecr:CreateRepository for new repositories, as in ECR). `{"type": "oci", "endpoint": "http://registry:5000", "username": "...", "password": "..."}` is any OCI registry (a rule\'s registryId is then not used). This deployment\'s own region needs no entry: its destinations are its other accounts.',
          ),
      })
      .prefault({}),
    pullTimes: z
      .strictObject({
        flushInterval: duration('10s').describe(
          "How often the last pull times of images are written to the database: pulls are gathered in memory and written in one batch, each image at most once per minute, so a busy image costs no write per pull.",
        ),
      })
      .prefault({}),
    throttle: z
      .strictObject({
        enabled: bool(true).describe(
          "Per-account request rates with ECR's default quotas (PutImage 10/s, BatchGetImage 2000/s, ...): over them the ECR API answers ThrottlingException and /v2/ 429 TOOMANYREQUESTS with Retry-After. Each process counts its own requests.",
        ),
        rates: z
          .string()
          .superRefine((v, ctx) => {
            try {
              parseRates(v);
            } catch (e) {
              ctx.addIssue({ code: 'custom', message: (e as Error).message });
            }
          })
          .optional()
          .describe('Rates over the defaults, requests per second per account: "PutImage=20,UploadLayerPart=1000" (actions: BatchCheckLayerAvailability, BatchGetImage, CompleteLayerUpload, GetAuthorizationToken, GetDownloadUrlForLayer, InitiateLayerUpload, PutImage, UploadLayerPart).'),
      })
      .prefault({}),
    templates: z
      .strictObject({
        bootstrapRoot: bool(true).describe(
          'On first start, create a ROOT repository creation template applied for CREATE_ON_PUSH, so that a push to a repository that does not exist creates it. Only the first start looks at this key; deleting the template turns on ECR\'s behaviour (such a push fails with NAME_UNKNOWN unless a template matches).',
        ),
      })
      .prefault({}),
    roles: z
      .string()
      .regex(/^(all|(api|worker|scheduler)(,(api|worker|scheduler))*)$/, 'all, or a comma-separated list of api, worker, scheduler')
      .default('all')
      .describe('What this process does: api (serves HTTP), worker (runs background jobs), scheduler (enqueues periodic jobs while it holds the leader lease), or all.'),
    auth: z
      .strictObject({
        credentialCacheTtl: duration('5m').describe('How long a verified access key stays cached in memory.'),
        masterKey: z
          .string()
          .regex(/^[A-Za-z0-9+/]{43}=$/, '32 bytes, base64 (openssl rand -base64 32)')
          .optional()
          .describe('Key that encrypts stored secrets and signs login tokens (32 bytes, base64). Unset: generated into <dataDir>/master.key (SQLite) or the database (PostgreSQL, so that every process shares it).'),
        tokenTtl: duration('12h').describe('Validity of login tokens from GetAuthorizationToken (ECR: 12 hours).'),
        downloadUrlTtl: duration('1h').describe('Validity of the layer download URLs GetDownloadUrlForLayer hands out (ECR: about an hour).'),
        clockSkew: duration('15m').describe('How far a SigV4 request date may be from the server clock.'),
      })
      .prefault({}),
    shutdown: z
      .strictObject({
        timeout: duration('30s').describe('On SIGTERM/SIGINT, how long in-flight requests may take before connections are closed.'),
      })
      .prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    if ((c.tls.cert === undefined) !== (c.tls.key === undefined)) ctx.addIssue({ code: 'custom', path: ['tls'], message: 'tls.cert and tls.key must be given together' });
    if ((c.root.accessKeyId === undefined) !== (c.root.secretAccessKey === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['root'], message: 'root.accessKeyId and root.secretAccessKey must be given together' });
    }
    if (c.storage.driver === 's3' && c.storage.s3.bucket === undefined) {
      ctx.addIssue({ code: 'custom', path: ['storage', 's3', 'bucket'], message: 'storage.s3.bucket is required when storage.driver is s3' });
    }
    if ((c.storage.s3.accessKeyId === undefined) !== (c.storage.s3.secretAccessKey === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['storage', 's3'], message: 'storage.s3.accessKeyId and storage.s3.secretAccessKey must be given together' });
    }
    if (c.storage.redirect.enabled && c.storage.driver !== 's3') {
      ctx.addIssue({ code: 'custom', path: ['storage', 'redirect', 'enabled'], message: 'redirects to presigned URLs need storage.driver s3' });
    }
    if (c.database.driver === 'postgres' && c.database.postgres.url === undefined) {
      ctx.addIssue({ code: 'custom', path: ['database', 'postgres', 'url'], message: 'database.postgres.url is required when database.driver is postgres' });
    }
  });

export type Config = z.output<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
