// Where a replication copies an image to: one repository of a destination registry, either an
// account of this deployment (through the Registry, blobs linked from the shared content store
// without copying bytes) or another registry over the OCI distribution API (berth's upstream
// client: blobs the destination has are not sent, uploads stream from the source's blob store).
import type { Readable } from 'node:stream';
import { isRegistryError } from '../core/errors.ts';
import type { Repository } from '../meta/index.ts';
import type { Registry } from '../registry/index.ts';
import { UpstreamError, type RegistryClient } from '../upstream/index.ts';
import type { Admitted, ReplicationReceiver } from './receiver.ts';

/** An immutable tag at the destination holds another image: the image goes without the tag (ECR). */
export class TagConflict extends Error {
  override readonly name = 'TagConflict';
}

export interface Target {
  hasManifest(digest: string): Promise<boolean>;
  hasBlob(digest: string): Promise<boolean>;
  /** Makes the blob present at the destination; `open` gives the source's bytes if they must travel. */
  putBlob(digest: string, size: number, open: () => Promise<Readable>): Promise<void>;
  /** Stores a manifest under a tag or its digest; TagConflict for an immutable tag holding another image. */
  putManifest(reference: string, body: Buffer, mediaType: string): Promise<void>;
}

/** Whether a lookup found its object (the registry answers a missing one with a RegistryError). */
async function present(lookup: Promise<unknown>): Promise<boolean> {
  try {
    await lookup;
    return true;
  } catch (e) {
    if (isRegistryError(e)) return false;
    throw e;
  }
}

/** A repository of another account of this deployment, admitted by the receiver. */
export class LocalTarget implements Target {
  private readonly registry: Registry;
  private readonly receiver: ReplicationReceiver;
  private readonly admitted: Admitted;
  private readonly repo: Repository;
  private readonly source: Repository;

  constructor(registry: Registry, receiver: ReplicationReceiver, admitted: Admitted, repo: Repository, source: Repository) {
    this.registry = registry;
    this.receiver = receiver;
    this.admitted = admitted;
    this.repo = repo;
    this.source = source;
  }

  async hasManifest(digest: string): Promise<boolean> {
    return await present(this.registry.manifests.head(this.repo, digest));
  }

  async hasBlob(digest: string): Promise<boolean> {
    return await present(this.registry.blobs.stat(this.repo, digest));
  }

  async putBlob(digest: string, _size: number, open: () => Promise<Readable>): Promise<void> {
    // One content store: linking the source's blob is enough; bytes are copied only if it is gone.
    if ((await this.registry.blobs.mount(this.repo, digest, this.source)) !== null) return;
    await this.registry.uploads.monolithic(this.repo, digest, await open());
  }

  async putManifest(reference: string, body: Buffer, mediaType: string): Promise<void> {
    try {
      await this.receiver.run(this.admitted, async () => await this.registry.manifests.put({ accountId: this.repo.accountId, name: this.repo.name }, reference, body, mediaType));
    } catch (e) {
      if (isRegistryError(e) && e.code === 'ImageTagImmutable') throw new TagConflict(e.message);
      throw e;
    }
  }
}

/** A repository of another registry, through the OCI distribution API. */
export class RemoteTarget implements Target {
  private readonly client: RegistryClient;
  private readonly repository: string;

  constructor(client: RegistryClient, repository: string) {
    this.client = client;
    this.repository = repository;
  }

  async hasManifest(digest: string): Promise<boolean> {
    return (await this.client.headManifest(this.repository, digest)) !== undefined;
  }

  async hasBlob(digest: string): Promise<boolean> {
    return await this.client.blobExists(this.repository, digest);
  }

  async putBlob(digest: string, size: number, open: () => Promise<Readable>): Promise<void> {
    await this.client.pushBlob(this.repository, digest, size, open);
  }

  async putManifest(reference: string, body: Buffer, mediaType: string): Promise<void> {
    try {
      await this.client.putManifest(this.repository, reference, body, mediaType);
    } catch (e) {
      // berth (and registries with immutable tags) answer TAG_INVALID for a tag that may not move.
      if (e instanceof UpstreamError && e.code === 'TAG_INVALID') throw new TagConflict(e.message);
      throw e;
    }
  }
}
