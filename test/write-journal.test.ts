// The write journal on its own: what was committed is what a reopen finds,
// through compactions and a line torn by a crash.
import { appendFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Journal } from '../src/write/journal.js';
import type { EntryRecord } from '../src/write/model.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tmp(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'dvfs-journal-'));
  dirs.push(d);
  return d;
}

const rec = (i: number, extra: Partial<EntryRecord> = {}): EntryRecord => ({ id: `e${i}`, datasetId: 1, kind: 'file', path: `f${i}.txt`, ...extra });

describe('journal', () => {
  it('finds after a reopen exactly what was committed, across compactions', async () => {
    const dir = await tmp();
    const j = await Journal.open(dir);
    // Few entries changing often: the log grows far past the state, so it is compacted while running.
    for (let round = 0; round < 300; round++) {
      await Promise.all(Array.from({ length: 20 }, (_, i) => j.commit({ put: [rec(i, { path: `r${round}/f${i}.txt` })] })));
      await j.commit({ del: [`e${round % 20}`], times: { [`f:1:${round}`]: round } });
    }
    await j.close();
    const files = await readdir(dir);
    const logs = files.filter((f) => f.startsWith('journal-'));
    expect(logs).toHaveLength(1); // older logs are gone
    expect(Number(/journal-(\d+)\.log/.exec(logs[0])![1])).toBeGreaterThan(1); // it compacted while running (1 = at open)
    const again = await Journal.open(dir);
    const expected = new Map<string, string>();
    // Round 299 re-put every entry, then deleted e19 (299 % 20).
    for (let i = 0; i < 19; i++) expected.set(`e${i}`, `r299/f${i}.txt`);
    expect(new Map([...again.state.entries].map(([id, e]) => [id, e.path]))).toEqual(expected);
    expect(again.state.times.size).toBe(300);
    expect(again.state.times.get('f:1:299')).toBe(299);
    await again.close();
  });

  it('ignores a last line torn by a crash, and keeps everything before it', async () => {
    const dir = await tmp();
    const j = await Journal.open(dir);
    await j.commit({ put: [rec(1), rec(2)] });
    await j.commit({ del: ['e1'] });
    await j.close();
    const log = (await readdir(dir)).find((f) => f.startsWith('journal-'))!;
    await appendFile(path.join(dir, log), '{"put":[{"id":"e3","datasetId":1,"ki');
    const again = await Journal.open(dir);
    expect([...again.state.entries.keys()]).toEqual(['e2']);
    await again.commit({ put: [rec(4)] });
    await again.close();
    const third = await Journal.open(dir);
    expect([...third.state.entries.keys()].sort()).toEqual(['e2', 'e4']);
    await third.close();
  });
});
