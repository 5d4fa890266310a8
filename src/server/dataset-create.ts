// Creating a dataset in a collection from the dataset JSON a client posts
// (POST /api/dataverses/{alias}/datasets): first draft version, PID, curator role.
import { apiError, readJson, type Ctx } from './http.js';
import { hasPermission, identifier, notPermitted } from './auth.js';
import type { CollectionRec, DatasetRec, LicenseRec, MetadataField, VersionRec } from './model.js';
import { isoSeconds } from './json.js';
import { assignRole } from './roles.js';
import { newDatasetIdentifier, PID_AUTHORITY } from './pids.js';

/** The licenses of a fresh installation (CC0 is the default). */
const KNOWN_LICENSES: LicenseRec[] = [
  {
    name: 'CC0 1.0',
    uri: 'http://creativecommons.org/publicdomain/zero/1.0',
    iconUri: 'https://licensebuttons.net/p/zero/1.0/88x31.png',
  },
  {
    name: 'CC BY 4.0',
    uri: 'http://creativecommons.org/licenses/by/4.0',
    iconUri: 'https://licensebuttons.net/l/by/4.0/88x31.png',
  },
];

interface DatasetBody {
  datasetVersion?: {
    license?: { name?: unknown; uri?: unknown } | string;
    termsOfUse?: unknown;
    metadataBlocks?: { citation?: { fields?: unknown } };
  };
}

function isField(x: unknown): x is MetadataField {
  const f = x as MetadataField;
  return (
    typeof f === 'object' &&
    f !== null &&
    typeof f.typeName === 'string' &&
    typeof f.multiple === 'boolean' &&
    (f.typeClass === 'primitive' || f.typeClass === 'compound' || f.typeClass === 'controlledVocabulary')
  );
}

/** Citation fields from a posted datasetVersion; 400 when malformed or without a title. */
export function parseCitationFields(raw: unknown): MetadataField[] {
  if (!Array.isArray(raw)) throw apiError(400, 'Error parsing Json: metadataBlocks.citation.fields is missing');
  const fields: MetadataField[] = [];
  for (const x of raw) {
    if (!isField(x)) throw apiError(400, `Error parsing Json: invalid field ${JSON.stringify(x)}`);
    fields.push({ typeName: x.typeName, multiple: x.multiple, typeClass: x.typeClass, value: x.value });
  }
  const title = fields.find((f) => f.typeName === 'title');
  if (!title || typeof title.value !== 'string' || title.value.trim() === '') {
    throw apiError(400, 'Validation Failed: Title is required.');
  }
  return fields;
}

/** A posted license (by name or {name,uri}); the installation default when none and no custom terms. */
export function parseLicense(raw: unknown, termsOfUse: string | undefined): LicenseRec | undefined {
  if (raw === undefined || raw === null) return termsOfUse ? undefined : { ...KNOWN_LICENSES[0] };
  const name = typeof raw === 'string' ? raw : (raw as { name?: unknown }).name;
  const known = KNOWN_LICENSES.find((l) => l.name === name);
  if (!known) throw apiError(400, `Invalid license: ${String(name)}`);
  return { ...known };
}

export async function createDatasetIn(ctx: Ctx, c: CollectionRec): Promise<DatasetRec> {
  const { store, user } = ctx;
  if (!hasPermission(store, user, 'AddDataset', c.id) || !user) throw notPermitted(user);
  const body = await readJson<DatasetBody>(ctx);
  const dv = body?.datasetVersion;
  if (!dv || typeof dv !== 'object') throw apiError(400, 'Error parsing Json: datasetVersion is missing');
  const fields = parseCitationFields(dv.metadataBlocks?.citation?.fields);
  const termsOfUse = typeof dv.termsOfUse === 'string' && dv.termsOfUse ? dv.termsOfUse : undefined;
  const license = parseLicense(dv.license, termsOfUse);
  const now = isoSeconds();
  const version: VersionRec = {
    id: store.nextId('version'),
    versionState: 'DRAFT',
    internalVersionNumber: 1,
    createTime: now,
    lastUpdateTime: now,
    license,
    termsOfUse: license ? undefined : termsOfUse,
    fields,
    files: [],
  };
  const ds: DatasetRec = {
    id: store.nextId('dvObject'),
    ownerId: c.id,
    protocol: 'doi',
    authority: PID_AUTHORITY,
    separator: '/',
    identifier: newDatasetIdentifier(store),
    createDate: now,
    creatorId: user.id,
    versions: [version],
    locks: [],
  };
  store.addDataset(ds);
  assignRole(store, identifier(user), 'curator', ds.id);
  await store.commit();
  return ds;
}
