// Building test fixtures through the public API, the way one would on a
// development installation of Dataverse.
import { Api } from './api.js';

export const BUILTIN_KEY = 'burrito';

export async function createUser(api: Api, username: string): Promise<{ username: string; token: string; id: number }> {
  const r = await api.as(undefined).post(`/api/builtin-users?key=${BUILTIN_KEY}&password=pw-${username}`, {
    userName: username,
    firstName: username,
    lastName: 'Tester',
    email: `${username}@example.org`,
  });
  if (r.status !== 200) throw new Error(`createUser ${username}: ${r.status} ${r.text}`);
  return { username, token: r.json.data.apiToken, id: r.json.data.authenticatedUser.id };
}

export async function createCollection(api: Api, parent: string, alias: string, name = alias): Promise<number> {
  const r = await api.post(`/api/dataverses/${parent}`, {
    alias,
    name,
    dataverseContacts: [{ contactEmail: `${alias}@example.org` }],
    dataverseType: 'LABORATORY',
  });
  if (r.status !== 201) throw new Error(`createCollection ${alias}: ${r.status} ${r.text}`);
  return r.json.data.id;
}

export function datasetJson(title: string): unknown {
  return {
    datasetVersion: {
      license: { name: 'CC0 1.0', uri: 'http://creativecommons.org/publicdomain/zero/1.0' },
      metadataBlocks: {
        citation: {
          fields: [
            { typeName: 'title', multiple: false, typeClass: 'primitive', value: title },
            {
              typeName: 'author',
              multiple: true,
              typeClass: 'compound',
              value: [{ authorName: { typeName: 'authorName', multiple: false, typeClass: 'primitive', value: 'Tester, Test' } }],
            },
            {
              typeName: 'datasetContact',
              multiple: true,
              typeClass: 'compound',
              value: [{ datasetContactEmail: { typeName: 'datasetContactEmail', multiple: false, typeClass: 'primitive', value: 't@example.org' } }],
            },
            {
              typeName: 'dsDescription',
              multiple: true,
              typeClass: 'compound',
              value: [{ dsDescriptionValue: { typeName: 'dsDescriptionValue', multiple: false, typeClass: 'primitive', value: 'A test dataset.' } }],
            },
            { typeName: 'subject', multiple: true, typeClass: 'controlledVocabulary', value: ['Other'] },
          ],
        },
      },
    },
  };
}

export async function createDataset(api: Api, collection: string, title: string): Promise<{ id: number; pid: string }> {
  const r = await api.post(`/api/dataverses/${collection}/datasets`, datasetJson(title));
  if (r.status !== 201) throw new Error(`createDataset ${title}: ${r.status} ${r.text}`);
  return { id: r.json.data.id, pid: r.json.data.persistentId };
}

export interface AddOptions {
  directoryLabel?: string;
  description?: string;
  categories?: string[];
  restrict?: boolean;
  tabIngest?: boolean;
  contentType?: string;
  [key: string]: unknown;
}

/** POST /api/datasets/{id}/add with a multipart body; returns the raw response. */
export async function addFile(api: Api, datasetId: number, name: string, data: Buffer | string, opts: AddOptions = {}) {
  const { contentType, ...json } = opts;
  const form = new FormData();
  form.append('file', new Blob([data], contentType ? { type: contentType } : {}), name);
  if (Object.keys(json).length) form.append('jsonData', JSON.stringify(json));
  return api.post(`/api/datasets/${datasetId}/add`, form);
}

export async function waitForNoLocks(api: Api, datasetId: number, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = await api.get(`/api/datasets/${datasetId}/locks`);
    if (r.status === 200 && r.json.data.length === 0) return;
    if (Date.now() > end) throw new Error(`dataset ${datasetId} still locked: ${r.text}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

export async function publishDataset(api: Api, datasetId: number, type: 'major' | 'minor' = 'major') {
  const r = await api.post(`/api/datasets/${datasetId}/actions/:publish?type=${type}`);
  if (r.status !== 200) throw new Error(`publish ${datasetId}: ${r.status} ${r.text}`);
  await waitForNoLocks(api, datasetId);
  return r;
}

export async function publishCollection(api: Api, alias: string) {
  const r = await api.post(`/api/dataverses/${alias}/actions/:publish`);
  if (r.status !== 200) throw new Error(`publish collection ${alias}: ${r.status} ${r.text}`);
  return r;
}
