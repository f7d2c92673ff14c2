// The deployment's master key and what is derived from it: encryption of stored access-key secrets
// (AES-256-GCM) and the HMAC that signs login tokens and presigned download URLs.
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

export class Keyring {
  private readonly encKey: Buffer;
  private readonly macKey: Buffer;

  /** `master`: 32 bytes. */
  constructor(master: Buffer) {
    if (master.length !== 32) throw new Error('the master key must be 32 bytes');
    this.encKey = Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), 'berth secrets v1', 32));
    this.macKey = Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), 'berth tokens v1', 32));
  }

  static generate(): Buffer {
    return randomBytes(32);
  }

  /** `v1:<iv>:<tag>:<ciphertext>`, base64 parts. */
  encrypt(plain: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.encKey, iv);
    const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return `v1:${iv.toString('base64')}:${c.getAuthTag().toString('base64')}:${body.toString('base64')}`;
  }

  decrypt(sealed: string): string {
    const [v, iv, tag, body] = sealed.split(':');
    if (v !== 'v1' || iv === undefined || tag === undefined || body === undefined) throw new Error('unknown secret format');
    const d = createDecipheriv('aes-256-gcm', this.encKey, Buffer.from(iv, 'base64'));
    d.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([d.update(Buffer.from(body, 'base64')), d.final()]).toString('utf8');
  }

  /** A token `<base64url payload>.<base64url mac>` carrying `payload`, tamper-evident. */
  sign(payload: Record<string, unknown>): string {
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return `${body}.${createHmac('sha256', this.macKey).update(body).digest('base64url')}`;
  }

  /** The payload of a token this keyring signed, or null for anything else. */
  verify(token: string): Record<string, unknown> | null {
    const dot = token.lastIndexOf('.');
    if (dot <= 0) return null;
    const body = token.slice(0, dot);
    const mac = Buffer.from(token.slice(dot + 1), 'base64url');
    const want = createHmac('sha256', this.macKey).update(body).digest();
    if (mac.length !== want.length || !timingSafeEqual(mac, want)) return null;
    try {
      const v = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as unknown;
      return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  }
}
