// The "documents" /api/search finds and the JSON items it prints, in the
// real Solr-backed shapes (dataverse-api-notes.md §12). The index is computed
// from the store on each request: no indexing lag here.
import type { CollectionRec, DatasetRec, FileMetadataRec, MetadataField, VersionRec } from './model.js';
import type { Store } from './store.js';
import { globalId } from './store.js';
import type { ServerConfig } from './config.js';
import { friendlyType, persistentUrl, versionTitle } from './json.js';

export type SearchType = 'dataverse' | 'dataset' | 'file';

export interface SearchDoc {
  type: SearchType;
  /** What q is matched against (name, title, description, label). */
  text: string[];
  name: string;
  /** dvObject id: the tie-break order ("index order"). */
  id: number;
  /** For sort=date: the publication time, else the creation time. */
  date: string;
  /** The collection that holds the object (for subtree filtering). */
  collectionId: number | undefined;
  published: boolean;
  item: Record<string, unknown>;
}

function dropUndefined(o: Record<string, unknown>): Record<string, unknown> {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

/** Values of a sub-field of a compound field, e.g. author → authorName. */
function compoundValues(fields: MetadataField[], typeName: string, sub: string): string[] {
  const f = fields.find((x) => x.typeName === typeName);
  if (!Array.isArray(f?.value)) return [];
  const out: string[] = [];
  for (const entry of f.value as Record<string, { value?: unknown }>[]) {
    const v = entry?.[sub]?.value;
    if (typeof v === 'string') out.push(v);
  }
  return out;
}

/** IndexServiceBean: "Unpublished" for never-released datasets, "Draft" for drafts. */
function publicationStatuses(ds: DatasetRec, v: VersionRec): string[] {
  if (v.versionState === 'RELEASED') return ['Published'];
  if (v.versionState === 'DEACCESSIONED') return ['Deaccessioned'];
  return ds.versions.some((x) => x.versionState !== 'DRAFT') ? ['Draft'] : ['Unpublished', 'Draft'];
}

function versionTag(v: VersionRec): string {
  if (v.versionState === 'DRAFT') return 'DRAFT VERSION';
  return v.minorVersionNumber ? `V${v.versionNumber}.${v.minorVersionNumber}` : `V${v.versionNumber}`;
}

/** The plain-text citation (DataCitation), simplified: authors, year, "title", PID URL, publisher, version. */
export function citation(config: ServerConfig, ds: DatasetRec, v: VersionRec): string {
  const authors = compoundValues(v.fields, 'author', 'authorName').join('; ');
  const year = (ds.publicationDate ?? ds.createDate).slice(0, 4);
  return `${authors}, ${year}, "${versionTitle(v)}", ${persistentUrl(ds)}, ${config.installationName}, ${versionTag(v)}`;
}

export function collectionDoc(store: Store, config: ServerConfig, c: CollectionRec): SearchDoc {
  const parent = c.ownerId === undefined ? undefined : store.collection(c.ownerId);
  return {
    type: 'dataverse',
    text: [c.name, c.alias, c.description ?? '', c.affiliation ?? ''],
    name: c.name,
    id: c.id,
    date: c.publicationDate ?? c.creationDate,
    collectionId: c.ownerId,
    published: c.released,
    item: dropUndefined({
      name: c.name,
      type: 'dataverse',
      url: `${config.publicUrl}/dataverse/${c.alias}`,
      identifier: c.alias,
      description: c.description,
      published_at: c.released ? c.publicationDate : undefined,
      publicationStatuses: [c.released ? 'Published' : 'Unpublished'],
      affiliation: c.affiliation,
      parentDataverseName: parent?.name,
      parentDataverseIdentifier: parent?.alias,
    }),
  };
}

export function datasetDoc(store: Store, config: ServerConfig, ds: DatasetRec, v: VersionRec): SearchDoc {
  const owner = store.collection(ds.ownerId);
  const title = versionTitle(v);
  const description = compoundValues(v.fields, 'dsDescription', 'dsDescriptionValue')[0];
  const released = v.versionState === 'RELEASED';
  const subjects = v.fields.find((f) => f.typeName === 'subject')?.value;
  return {
    type: 'dataset',
    text: [title, description ?? '', globalId(ds)],
    name: title,
    id: ds.id,
    date: v.releaseTime ?? v.createTime,
    collectionId: ds.ownerId,
    published: released,
    item: dropUndefined({
      name: title,
      type: 'dataset',
      url: persistentUrl(ds),
      global_id: globalId(ds),
      description,
      published_at: released ? v.releaseTime : undefined,
      publisher: owner?.name,
      citationHtml: citation(config, ds, v),
      identifier_of_dataverse: owner?.alias,
      name_of_dataverse: owner?.name,
      citation: citation(config, ds, v),
      storageIdentifier: `file://${ds.authority}/${ds.identifier}`,
      subjects: Array.isArray(subjects) ? subjects : undefined,
      fileCount: v.files.length,
      versionId: v.id,
      versionState: v.versionState,
      majorVersion: released ? v.versionNumber : undefined,
      minorVersion: released ? v.minorVersionNumber : undefined,
      createdAt: v.createTime,
      updatedAt: v.lastUpdateTime,
      contacts: compoundValues(v.fields, 'datasetContact', 'datasetContactName').map((name) => ({ name, affiliation: '' })),
      publicationStatuses: publicationStatuses(ds, v),
      authors: compoundValues(v.fields, 'author', 'authorName'),
    }),
  };
}

export function fileDoc(
  store: Store,
  config: ServerConfig,
  ds: DatasetRec,
  v: VersionRec,
  fm: FileMetadataRec,
): SearchDoc | undefined {
  const f = store.file(fm.dataFileId);
  if (!f) return undefined;
  const released = v.versionState === 'RELEASED';
  return {
    type: 'file',
    text: [fm.label, fm.description],
    name: fm.label,
    id: f.id,
    date: released ? (v.releaseTime ?? f.createDate) : f.createDate,
    collectionId: ds.ownerId,
    published: released,
    item: dropUndefined({
      name: fm.label,
      type: 'file',
      url: `${config.publicUrl}/api/access/datafile/${f.id}`,
      file_id: String(f.id),
      description: fm.description,
      published_at: released ? v.releaseTime : undefined,
      file_type: friendlyType(f.contentType),
      file_content_type: f.contentType,
      size_in_bytes: f.filesize,
      md5: f.checksum.type === 'MD5' ? f.checksum.value : undefined,
      checksum: { type: f.checksum.type, value: f.checksum.value },
      unf: f.tabular?.UNF,
      file_persistent_id: '',
      dataset_name: versionTitle(v),
      dataset_id: String(ds.id),
      publisher: store.collection(ds.ownerId)?.name,
      dataset_persistent_id: globalId(ds),
      dataset_citation: citation(config, ds, v),
      restricted: fm.restricted,
      publicationStatuses: publicationStatuses(ds, v),
      categories: fm.categories.length ? [...fm.categories] : undefined,
    }),
  };
}
