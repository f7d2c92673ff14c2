// Manifest parsing and validation (OCI image-spec manifest.md, image-index.md, descriptor.md;
// Docker image manifest v2 schema 2 and manifest list). Pure: no I/O.
import { RegistryError } from './errors.ts';
import { digestOf, tryParseDigest } from './digest.ts';
import { FOREIGN_LAYER_TYPES, INDEX_TYPES, MT, isMediaType, stripParameters } from './media-types.ts';

/** Manifests larger than this are refused (the spec asks registries to accept at least 4 MB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  artifactType?: string;
  platform?: Platform;
}

export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  features?: string[];
}

export type ManifestKind = 'image' | 'index' | 'other';

export interface ParsedManifest {
  /** The media type the manifest is stored and served with. */
  mediaType: string;
  kind: ManifestKind;
  digest: string;
  size: number;
  config?: Descriptor;
  layers: Descriptor[];
  /** Child manifests of an index. */
  manifests: Descriptor[];
  subject?: Descriptor;
  /** `artifactType`, or for an image manifest without one, the config media type (for referrers). */
  artifactType?: string;
  annotations?: Record<string, string>;
  /** Blobs that must exist in the repository (config and distributable layers). */
  requiredBlobs: Descriptor[];
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

function invalid(message: string, detail?: unknown): RegistryError {
  return new RegistryError('ManifestInvalid', message, detail);
}

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseStringMap(v: Json | undefined, where: string): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v)) throw invalid(`${where} must be an object of strings`);
  const out: Record<string, string> = {};
  for (const [k, s] of Object.entries(v)) {
    if (typeof s !== 'string') throw invalid(`${where}["${k}"] must be a string`);
    out[k] = s;
  }
  return out;
}

function parseStringArray(v: Json | undefined, where: string): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw invalid(`${where} must be an array of strings`);
  return v as string[];
}

export function parseDescriptor(v: Json | undefined, where: string): Descriptor {
  if (!isObject(v)) throw invalid(`${where} must be a descriptor object`);
  const { mediaType, digest, size } = v;
  if (typeof mediaType !== 'string' || !isMediaType(mediaType)) throw invalid(`${where}.mediaType must be a media type, got ${JSON.stringify(mediaType ?? null)}`);
  if (typeof digest !== 'string' || tryParseDigest(digest) === null) throw invalid(`${where}.digest is not a valid sha256 or sha512 digest: ${JSON.stringify(digest ?? null)}`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw invalid(`${where}.size must be a non-negative integer`);
  const d: Descriptor = { mediaType, digest, size };
  const urls = parseStringArray(v.urls, `${where}.urls`);
  if (urls !== undefined) d.urls = urls;
  const annotations = parseStringMap(v.annotations, `${where}.annotations`);
  if (annotations !== undefined) d.annotations = annotations;
  if (v.artifactType !== undefined) {
    if (typeof v.artifactType !== 'string' || !isMediaType(v.artifactType)) throw invalid(`${where}.artifactType must be a media type`);
    d.artifactType = v.artifactType;
  }
  if (v.data !== undefined) {
    if (typeof v.data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v.data)) throw invalid(`${where}.data must be base64`);
    const bytes = Buffer.from(v.data, 'base64');
    const alg = digest.startsWith('sha512:') ? 'sha512' : 'sha256';
    if (bytes.length !== size || digestOf(bytes, alg) !== digest) throw invalid(`${where}.data does not match its digest and size`);
  }
  if (v.platform !== undefined) {
    const p = v.platform;
    if (!isObject(p) || typeof p.architecture !== 'string' || typeof p.os !== 'string') {
      throw invalid(`${where}.platform must have string "architecture" and "os"`);
    }
    const platform: Platform = { architecture: p.architecture, os: p.os };
    if (typeof p['os.version'] === 'string') platform['os.version'] = p['os.version'];
    if (typeof p.variant === 'string') platform.variant = p.variant;
    const osf = parseStringArray(p['os.features'], `${where}.platform["os.features"]`);
    if (osf !== undefined) platform['os.features'] = osf;
    const feats = parseStringArray(p.features, `${where}.platform.features`);
    if (feats !== undefined) platform.features = feats;
    d.platform = platform;
  }
  return d;
}

function parseDescriptorList(v: Json | undefined, where: string, required: boolean): Descriptor[] {
  if (v === undefined || v === null) {
    if (required) throw invalid(`${where} is required`);
    return [];
  }
  if (!Array.isArray(v)) throw invalid(`${where} must be an array`);
  return v.map((d, i) => parseDescriptor(d, `${where}[${i}]`));
}

/**
 * Parses and validates a manifest body pushed with the given Content-Type.
 * Throws MANIFEST_INVALID (or 413 for oversized bodies) with a message naming the problem.
 */
export function parseManifest(body: Buffer, contentType: string | undefined, digestAlgorithm: 'sha256' | 'sha512' = 'sha256'): ParsedManifest {
  if (body.length > MAX_MANIFEST_BYTES) {
    throw new RegistryError('ManifestTooLarge', `manifest is ${body.length} bytes; the limit is ${MAX_MANIFEST_BYTES} bytes`);
  }
  let doc: Json;
  try {
    doc = JSON.parse(body.toString('utf8')) as Json;
  } catch (e) {
    throw invalid(`manifest is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(doc)) throw invalid('manifest must be a JSON object');

  const header = stripParameters(contentType);
  const declared = doc.mediaType;
  if (declared !== undefined && (typeof declared !== 'string' || !isMediaType(declared))) {
    throw invalid('manifest mediaType must be a media type string');
  }
  if (declared !== undefined && header !== undefined && header !== declared && header !== 'application/octet-stream' && header !== 'application/json') {
    throw invalid(`Content-Type "${header}" does not match the manifest's mediaType "${declared}"`);
  }
  let mediaType = declared ?? header;
  if (mediaType === undefined || mediaType === 'application/octet-stream' || mediaType === 'application/json') {
    // No usable type: infer as OCI does for manifests without mediaType.
    mediaType = doc.manifests !== undefined ? MT.ociIndex : MT.ociManifest;
  }
  if (mediaType === MT.dockerSchema1 || mediaType === MT.dockerSchema1Signed || doc.schemaVersion === 1) {
    throw invalid('Docker image manifest schema 1 is deprecated and not supported; push schema 2 or OCI');
  }

  const parsed: ParsedManifest = {
    mediaType,
    kind: 'other',
    digest: digestOf(body, digestAlgorithm),
    size: body.length,
    layers: [],
    manifests: [],
    requiredBlobs: [],
  };
  const annotations = parseStringMap(doc.annotations, 'annotations');
  if (annotations !== undefined) parsed.annotations = annotations;
  if (doc.artifactType !== undefined) {
    if (typeof doc.artifactType !== 'string' || !isMediaType(doc.artifactType)) throw invalid('artifactType must be a media type');
    parsed.artifactType = doc.artifactType;
  }
  if (doc.subject !== undefined) parsed.subject = parseDescriptor(doc.subject, 'subject');

  const isIndex = INDEX_TYPES.has(mediaType);
  const isImage = mediaType === MT.ociManifest || mediaType === MT.dockerManifest;
  if (isIndex || isImage) {
    if (doc.schemaVersion !== 2) throw invalid(`schemaVersion must be 2 for ${mediaType}`);
  }
  if (isIndex) {
    parsed.kind = 'index';
    parsed.manifests = parseDescriptorList(doc.manifests, 'manifests', true);
    if (doc.config !== undefined || doc.layers !== undefined) throw invalid('an index has no config or layers');
  } else if (isImage) {
    parsed.kind = 'image';
    parsed.config = parseDescriptor(doc.config, 'config');
    parsed.layers = parseDescriptorList(doc.layers, 'layers', mediaType === MT.dockerManifest);
    if (doc.manifests !== undefined) throw invalid('an image manifest has no manifests list');
    if (mediaType === MT.dockerManifest && parsed.artifactType !== undefined) throw invalid('a Docker manifest has no artifactType');
    if (parsed.artifactType === undefined) parsed.artifactType = parsed.config.mediaType;
  } else {
    // An artifact with an unknown manifest media type: stored as given, its descriptors still checked.
    if (doc.config !== undefined) parsed.config = parseDescriptor(doc.config, 'config');
    parsed.layers = parseDescriptorList(doc.layers ?? doc.blobs, doc.layers !== undefined ? 'layers' : 'blobs', false);
    parsed.manifests = parseDescriptorList(doc.manifests, 'manifests', false);
    if (parsed.artifactType === undefined && parsed.config !== undefined) parsed.artifactType = parsed.config.mediaType;
  }
  if (parsed.config !== undefined) parsed.requiredBlobs.push(parsed.config);
  for (const l of parsed.layers) {
    if (FOREIGN_LAYER_TYPES.has(l.mediaType) && (l.urls?.length ?? 0) > 0) continue;
    parsed.requiredBlobs.push(l);
  }
  return parsed;
}
