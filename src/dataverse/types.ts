// The JSON shapes dvfs reads from the Native API (dataverse-api-notes.md §2).
// Only the fields dvfs uses are typed; the server omits null fields.

export interface CollectionInfo {
  id: number;
  alias: string;
  name: string;
  description?: string;
  ownerId?: number;
  creationDate?: string;
  isReleased?: boolean;
}

/** An entry of GET /api/dataverses/{id}/contents. */
export type ContentsEntry =
  | { type: 'dataverse'; id: number; title: string }
  | (DatasetInfo & { type: 'dataset' });

export interface DatasetInfo {
  id: number;
  identifier: string;
  persistentUrl?: string;
  protocol: string;
  authority: string;
  separator?: string;
  publicationDate?: string;
  locks?: string[];
  latestVersion?: VersionInfo;
}

export type VersionState = 'DRAFT' | 'RELEASED' | 'DEACCESSIONED';

export interface MetadataField {
  typeName: string;
  value: unknown;
}

export interface VersionInfo {
  id: number;
  datasetId: number;
  datasetPersistentId: string;
  versionNumber?: number;
  versionMinorNumber?: number;
  versionState: VersionState;
  latestVersionPublishingState?: VersionState;
  lastUpdateTime?: string;
  releaseTime?: string;
  createTime?: string;
  metadataBlocks?: { citation?: { fields: MetadataField[] } };
  files?: FileMetadataInfo[];
}

export interface Checksum {
  type: 'MD5' | 'SHA-1' | 'SHA-256' | 'SHA-512';
  value: string;
}

export interface DataFileInfo {
  id: number;
  persistentId?: string;
  filename: string;
  contentType: string;
  filesize: number;
  description?: string;
  storageIdentifier?: string;
  originalFileFormat?: string;
  originalFileSize?: number;
  originalFileName?: string;
  UNF?: string;
  rootDataFileId?: number;
  previousDataFileId?: number;
  md5?: string;
  checksum?: Checksum;
  tabularData?: boolean;
  creationDate?: string;
  publicationDate?: string;
}

export interface FileMetadataInfo {
  label: string;
  directoryLabel?: string;
  description?: string;
  restricted: boolean;
  categories?: string[];
  version?: number;
  datasetVersionId?: number;
  dataFile: DataFileInfo;
}

export interface LockInfo {
  lockType: string;
  date?: string;
  user?: string;
  message?: string;
}

export interface UserInfo {
  id: number;
  identifier: string;
  displayName?: string;
  superuser?: boolean;
}

export interface SearchItem {
  type: 'dataverse' | 'dataset' | 'file';
  name: string;
  identifier?: string;
  global_id?: string;
}
