// `dvfs serve --seed demo`: a small but realistic installation, built through
// the server's own HTTP API (the same code paths a real client uses). Only
// the 512 MiB file is registered directly, as a synthetic blob.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunningServer } from '../server.js';
import { syntheticKey } from '../blobs.js';
import { getOrCreateDraft, touch } from '../versions.js';
import { isoSeconds } from '../json.js';
import { demoCsv, demoPng, stationCsv } from './demo-content.js';

export const DEMO_TOKENS_FILE = 'demo-tokens.json';
/** assets/demo of the package, found by walking up from this file (works from dist/ and from other build folders). */
function assetsDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('seed: cannot find the dvfs package root (assets/demo)');
    dir = up;
  }
  return path.join(dir, 'assets', 'demo');
}
export const BIG_FILE_SIZE = 512 * 1024 * 1024 + 12_345; // not a multiple of any block size
export const BIG_FILE_SEED = 20240501;
export const MANY_FILES = 2000;

interface DemoUser {
  username: string;
  token: string;
  role: string;
}

export interface DemoTokens {
  server: string;
  users: Record<'superuser' | 'editor' | 'reader', DemoUser>;
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

class SeedClient {
  constructor(
    private readonly base: string,
    private token: string,
  ) {}

  as(token: string): SeedClient {
    return new SeedClient(this.base, token);
  }

  async call(method: string, p: string, body?: unknown, expect = [200, 201]): Promise<Json> {
    const isForm = body instanceof FormData;
    const res = await fetch(`${this.base}/api/v1${p}`, {
      method,
      headers: {
        'X-Dataverse-key': this.token,
        ...(body !== undefined && !isForm && typeof body !== 'string' ? { 'Content-Type': 'application/json' } : {}),
      },
      body: body === undefined ? undefined : isForm || typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    if (!expect.includes(res.status)) throw new Error(`seed: ${method} ${p} → ${res.status} ${text.slice(0, 300)}`);
    try {
      return JSON.parse(text) as Json;
    } catch {
      return { text };
    }
  }

  async collection(parent: string, alias: string, name: string, description: string): Promise<void> {
    await this.call('POST', `/dataverses/${parent}`, {
      alias,
      name,
      description,
      dataverseContacts: [{ contactEmail: `${alias}@demo.invalid` }],
      dataverseType: 'RESEARCH_PROJECTS',
    });
    await this.call('POST', `/dataverses/${alias}/actions/:publish`);
  }

  async dataset(collection: string, title: string, description: string, subject: string): Promise<number> {
    const field = (typeName: string, value: unknown, typeClass = 'primitive', multiple = false) => ({
      typeName,
      multiple,
      typeClass,
      value,
    });
    const r = await this.call('POST', `/dataverses/${collection}/datasets`, {
      datasetVersion: {
        license: { name: 'CC0 1.0', uri: 'http://creativecommons.org/publicdomain/zero/1.0' },
        metadataBlocks: {
          citation: {
            fields: [
              field('title', title),
              field('author', [{ authorName: field('authorName', 'Doe, Jane'), authorAffiliation: field('authorAffiliation', 'dvfs Demo University') }], 'compound', true),
              field('datasetContact', [{ datasetContactEmail: field('datasetContactEmail', 'jane.doe@demo.invalid') }], 'compound', true),
              field('dsDescription', [{ dsDescriptionValue: field('dsDescriptionValue', description) }], 'compound', true),
              field('subject', [subject], 'controlledVocabulary', true),
            ],
          },
        },
      },
    });
    return r.data.id as number;
  }

  async add(datasetId: number, name: string, data: Buffer | string, json: Json = {}): Promise<Json> {
    const form = new FormData();
    form.append('file', new Blob([typeof data === 'string' ? data : new Uint8Array(data)]), name);
    form.append('jsonData', JSON.stringify(json));
    const r = await this.call('POST', `/datasets/${datasetId}/add`, form);
    return r.data.files[0] as Json;
  }

  async waitUnlocked(datasetId: number): Promise<void> {
    for (;;) {
      const r = await this.call('GET', `/datasets/${datasetId}/locks`);
      if ((r.data as unknown[]).length === 0) return;
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  async publish(datasetId: number, type: 'major' | 'minor'): Promise<void> {
    await this.waitUnlocked(datasetId);
    await this.call('POST', `/datasets/${datasetId}/actions/:publish?type=${type}`);
    await this.waitUnlocked(datasetId);
  }
}

/** Run `tasks` with at most `limit` in flight. */
async function inParallel(limit: number, count: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

export async function seedDemo(server: RunningServer, print: (line: string) => void): Promise<DemoTokens> {
  const tokensPath = path.join(server.store.dataDir, DEMO_TOKENS_FILE);
  if (server.store.collectionByAlias('social-science')) {
    // The tokens file is written last: without it, a seeding was interrupted (it cannot be resumed).
    const text = await readFile(tokensPath, 'utf8').catch(() => undefined);
    if (text === undefined) {
      throw new Error(`${server.store.dataDir} holds a demo installation whose seeding was interrupted (no ${DEMO_TOKENS_FILE}); remove that folder and start again`);
    }
    const tokens = JSON.parse(text) as DemoTokens;
    tokens.server = server.url;
    printTokens(tokens, print);
    return tokens;
  }
  print('dvfs serve: seeding the demo installation (once per data directory)…');
  const started = Date.now();
  const ingestSeconds = server.config.ingestSeconds;
  const publishSeconds = server.config.publishSeconds;
  server.config.ingestSeconds = 0.2; // seeding need not wait like a real ingest
  server.config.publishSeconds = 0.1;
  try {
    const superuser = server.store.userByName('dataverseAdmin')!;
    const admin = new SeedClient(server.url, superuser.token!.value);
    const makeUser = async (username: string, firstName: string) => {
      const r = await fetch(`${server.url}/api/v1/builtin-users?key=burrito&password=${username}-demo`, {
        method: 'POST',
        body: JSON.stringify({ userName: username, firstName, lastName: 'Demo', email: `${username}@demo.invalid` }),
      });
      if (!r.ok) throw new Error(`seed: creating ${username}: ${r.status} ${await r.text()}`);
      return ((await r.json()) as Json).data.apiToken as string;
    };
    const editorToken = await makeUser('editor', 'Eddie');
    const readerToken = await makeUser('reader', 'Rita');

    await admin.collection('root', 'social-science', 'Social Science', 'Surveys and interviews.');
    await admin.collection('social-science', 'survey-lab', 'Survey Lab', 'The lab that runs the household surveys.');
    await admin.collection('root', 'earth-sciences', 'Earth Sciences', 'Climate and weather data.');
    await admin.collection('earth-sciences', 'climate', 'Climate Group', 'Models and station networks.');
    for (const alias of ['social-science', 'earth-sciences']) {
      await admin.call('POST', `/dataverses/${alias}/assignments`, { assignee: '@editor', role: 'curator' });
    }
    const editor = admin.as(editorToken);

    // 1. A survey with three published versions and a draft.
    const survey = await editor.dataset('survey-lab', 'Household Survey 2024', 'Responses to the 2024 household survey, with codebook.', 'Social Sciences');
    await editor.add(survey, 'README.md', '# Household Survey 2024\n\nSee data/raw/2024 for the responses.\n', { description: 'Start here.' });
    await editor.add(survey, 'responses.csv', demoCsv(240), { directoryLabel: 'data/raw/2024', description: 'One row per household.', categories: ['Data'] });
    await editor.add(survey, 'codebook.txt', 'id: household id\nregion: region name\nage: age of the respondent\nincome: yearly income (EUR)\nsatisfaction: 1-5\ncomment: free text\n', { directoryLabel: 'data/raw/2024', categories: ['Documentation'] });
    await editor.add(survey, 'questionnaire.md', '# Questionnaire\n\n1. How satisfied are you?\n', { directoryLabel: 'docs' });
    await editor.publish(survey, 'major'); // 1.0
    const readme = (await editor.call('GET', `/datasets/${survey}/versions/:latest/files`)).data.find((f: Json) => f.label === 'README.md');
    const meta = new FormData();
    meta.append('jsonData', JSON.stringify({ description: 'Start here. Updated for version 1.1.' }));
    await editor.call('POST', `/files/${readme.dataFile.id}/metadata`, meta);
    await editor.publish(survey, 'minor'); // 1.1
    await editor.add(survey, 'response rates.png', demoPng(), { directoryLabel: 'figures', description: 'Response rate by region.' });
    await editor.add(survey, 'Überblick – Zusammenfassung.txt', 'Zusammenfassung der Ergebnisse: größtenteils zufrieden.\n', { directoryLabel: 'notes' });
    await editor.add(survey, 'participants.csv', 'id,name,email\n1,Ada Example,ada@demo.invalid\n2,Bo Example,bo@demo.invalid\n', {
      directoryLabel: 'data/private',
      restrict: true,
      tabIngest: false,
      description: 'Contact details; restricted.',
    });
    await editor.publish(survey, 'major'); // 2.0
    await editor.add(survey, 'analysis-plan.md', '# Analysis plan (draft)\n', { directoryLabel: 'drafts' }); // draft

    // 2. Climate model output: the big file and a SQLite database.
    const model = await editor.dataset('climate', 'Regional Climate Model Output', 'One run of the regional model with its station database.', 'Earth and Environmental Sciences');
    await editor.add(model, 'stations.sqlite', await readFile(path.join(assetsDir(), 'stations.sqlite')), { description: 'Station list and daily readings (SQLite).' });
    await editor.add(model, 'config.json', JSON.stringify({ model: 'demo-rcm', resolution_km: 12, years: [2000, 2024] }, null, 2) + '\n', { directoryLabel: 'model/run-001' });
    await addSyntheticFile(server, model, 'output.bin', 'model/run-001', BIG_FILE_SEED, BIG_FILE_SIZE);
    await editor.publish(model, 'major');

    // 3. Many small files.
    const readings = await editor.dataset('climate', 'Weather Station Readings', `${MANY_FILES} station files, one per station.`, 'Earth and Environmental Sciences');
    await inParallel(8, MANY_FILES, async (i) => {
      const n = String(i + 1).padStart(4, '0');
      await editor.add(readings, `station-${n}.csv`, stationCsv(i + 1), {
        directoryLabel: `readings/group-${String(Math.floor(i / 100)).padStart(2, '0')}`,
        tabIngest: false,
      });
    });
    await editor.publish(readings, 'major');

    // 4. Never published.
    const pilot = await editor.dataset('survey-lab', 'Pilot Study (unpublished)', 'A pilot that was never published.', 'Social Sciences');
    await editor.add(pilot, 'pilot-notes.txt', 'Pilot interviews went fine.\n');
    await editor.add(pilot, 'interview 01.txt', 'Q: How are you?\nA: Fine.\n', { directoryLabel: 'interviews' });

    const tokens: DemoTokens = {
      server: server.url,
      users: {
        superuser: { username: 'dataverseAdmin', token: superuser.token!.value, role: 'superuser' },
        editor: { username: 'editor', token: editorToken, role: 'curator of social-science and earth-sciences' },
        reader: { username: 'reader', token: readerToken, role: 'no roles: sees published data only' },
      },
    };
    await writeFile(tokensPath, JSON.stringify(tokens, null, 2) + '\n', { mode: 0o600 });
    print(`dvfs serve: demo seeded in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    printTokens(tokens, print);
    return tokens;
  } finally {
    server.config.ingestSeconds = ingestSeconds;
    server.config.publishSeconds = publishSeconds;
  }
}

function printTokens(tokens: DemoTokens, print: (line: string) => void): void {
  print('dvfs serve: demo users (tokens also in <data-dir>/demo-tokens.json):');
  for (const [kind, u] of Object.entries(tokens.users)) print(`  ${kind.padEnd(9)} ${u.username.padEnd(15)} ${u.token}  (${u.role})`);
}

/** Register a synthetic blob as a new file in the dataset's draft, as /add would. */
async function addSyntheticFile(
  server: RunningServer,
  datasetId: number,
  label: string,
  directoryLabel: string,
  seed: number,
  size: number,
): Promise<void> {
  const { store } = server;
  const ds = store.dataset(datasetId)!;
  const blob = syntheticKey(seed, size);
  const md5 = await store.blobs.md5(blob);
  const draft = getOrCreateDraft(store, ds);
  const id = store.nextId('dvObject');
  store.addFile({
    id,
    datasetId,
    contentType: 'application/octet-stream',
    filesize: size,
    blob,
    checksum: { type: 'MD5', value: md5 },
    createDate: isoSeconds(),
    rootDataFileId: -1,
    accessGrants: [],
  });
  draft.files.push({
    id: store.nextId('fileMetadata'),
    dataFileId: id,
    label,
    directoryLabel,
    description: 'Model output (synthetic bytes).',
    categories: ['Data'],
    restricted: false,
    version: 1,
  });
  touch(draft);
  await store.commit();
}
