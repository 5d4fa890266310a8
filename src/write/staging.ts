// The staging area: one local file per entry whose content is not on the
// server yet, under <stateDir>/staged. A staged file being uploaded is
// "busy" and is removed only when the upload is over.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

export class Staging {
  private readonly busy = new Map<string, number>();
  private readonly doomed = new Set<string>();

  constructor(readonly dir: string) {}

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  path(name: string): string {
    return path.join(this.dir, name);
  }

  /** A new, empty staged file; its name. */
  async create(prefix: string): Promise<string> {
    const { name, fh } = await this.createOpen(prefix);
    await fh.close();
    return name;
  }

  /** A new, empty staged file, open for reading and writing. */
  async createOpen(prefix: string): Promise<{ name: string; fh: FileHandle }> {
    const name = `${prefix}-${randomBytes(4).toString('hex')}`;
    return { name, fh: await open(this.path(name), 'wx+', 0o600) };
  }

  async size(name: string): Promise<number | undefined> {
    return (await stat(this.path(name)).catch(() => undefined))?.size;
  }

  /** Mark a staged file in use (an upload reads it) until `release`. */
  hold(name: string): void {
    this.busy.set(name, (this.busy.get(name) ?? 0) + 1);
  }

  release(name: string): void {
    const n = (this.busy.get(name) ?? 1) - 1;
    if (n > 0) {
      this.busy.set(name, n);
      return;
    }
    this.busy.delete(name);
    if (this.doomed.delete(name)) void rm(this.path(name), { force: true });
  }

  /** Delete a staged file now, or when its upload is over. Open handles keep their (unlinked) file. */
  async remove(name: string): Promise<void> {
    if (this.busy.has(name)) {
      this.doomed.add(name);
      return;
    }
    await rm(this.path(name), { force: true });
  }

  /** Staged files no entry refers to (left by a crash between creating the file and journaling it). */
  async removeOrphans(known: Set<string>): Promise<number> {
    let n = 0;
    for (const name of await readdir(this.dir)) {
      if (!known.has(name)) {
        await rm(this.path(name), { force: true });
        n++;
      }
    }
    return n;
  }
}

/** Hash of a whole file with a Dataverse checksum algorithm (MD5, SHA-1, SHA-256, SHA-512). */
export async function hashFile(file: string, algorithm: string): Promise<string> {
  const h = createHash(nodeAlgorithm(algorithm));
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

export function nodeAlgorithm(type: string): string {
  switch (type.toUpperCase()) {
    case 'SHA-1':
      return 'sha1';
    case 'SHA-256':
      return 'sha256';
    case 'SHA-512':
      return 'sha512';
    default:
      return 'md5';
  }
}
