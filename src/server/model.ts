// The persistent state of the Dataverse-compatible server. Shapes follow the
// real server's entities (DvObject ids shared by collections, datasets and
// files; FileMetadata per version), not its JSON: printing is in json.ts.

export type ChecksumType = 'MD5' | 'SHA-1' | 'SHA-256' | 'SHA-512';

export interface ApiToken {
  value: string;
  created: string; // ISO timestamp
  expires: string; // ISO timestamp
}

export interface UserRec {
  id: number;
  username: string;
  firstName: string;
  lastName: string;
  email: string;
  affiliation?: string;
  position?: string;
  superuser: boolean;
  deactivated: boolean;
  createdTime: string;
  lastApiUseTime?: string;
  password?: string;
  token?: ApiToken;
}

export interface CollectionRec {
  id: number;
  alias: string;
  name: string;
  ownerId?: number; // absent for root
  affiliation?: string;
  description?: string;
  dataverseType: string;
  contactEmails: string[];
  creationDate: string;
  released: boolean;
  publicationDate?: string;
  creatorId: number;
}

/** One field of a metadata block, as the dataset JSON carries it. */
export interface MetadataField {
  typeName: string;
  multiple: boolean;
  typeClass: 'primitive' | 'compound' | 'controlledVocabulary';
  value: unknown;
}

export interface LicenseRec {
  name: string;
  uri: string;
  iconUri?: string;
}

export interface FileMetadataRec {
  id: number;
  dataFileId: number;
  label: string;
  directoryLabel?: string;
  description: string;
  categories: string[];
  restricted: boolean;
  version: number; // JPA counter of the row, not a dataset version
}

export type VersionState = 'DRAFT' | 'RELEASED' | 'DEACCESSIONED';

export interface VersionRec {
  id: number;
  versionNumber?: number;
  minorVersionNumber?: number;
  versionState: VersionState;
  internalVersionNumber: number;
  createTime: string;
  lastUpdateTime: string;
  releaseTime?: string;
  versionNote?: string;
  license?: LicenseRec;
  termsOfUse?: string;
  fields: MetadataField[]; // citation block
  files: FileMetadataRec[];
}

export type LockType =
  | 'Ingest'
  | 'Workflow'
  | 'InReview'
  | 'DcmUpload'
  | 'GlobusUpload'
  | 'finalizePublication'
  | 'EditInProgress'
  | 'FileValidationFailed';

export const LOCK_TYPES: readonly LockType[] = [
  'Ingest',
  'Workflow',
  'InReview',
  'DcmUpload',
  'GlobusUpload',
  'finalizePublication',
  'EditInProgress',
  'FileValidationFailed',
];

export interface LockRec {
  lockType: LockType;
  date: string; // Java Date.toString() style
  user: string; // username without '@'
  message?: string;
  /** Epoch ms when the server removes the lock by itself (timed locks). */
  until?: number;
}

export interface DatasetRec {
  id: number;
  ownerId: number;
  protocol: 'doi';
  authority: string;
  separator: '/';
  identifier: string; // e.g. FK2/ABC123
  createDate: string;
  publicationDate?: string; // yyyy-MM-dd of first publication
  creatorId: number;
  versions: VersionRec[]; // oldest first
  locks: LockRec[];
}

export interface TabularVariable {
  id: number;
  name: string;
  type: 'numeric' | 'character';
}

export interface TabularInfo {
  originalFileFormat: string;
  originalFormatLabel: string;
  originalFileSize: number;
  originalFileName: string;
  originalBlob: string;
  UNF: string;
  caseQuantity: number;
  variables: TabularVariable[];
}

export interface DataFileRec {
  id: number;
  datasetId: number;
  contentType: string;
  filesize: number;
  blob: string; // key in the blob store
  checksum: { type: ChecksumType; value: string };
  createDate: string; // ISO timestamp
  publicationDate?: string; // yyyy-MM-dd
  rootDataFileId: number; // -1 until replaced
  previousDataFileId?: number;
  tabular?: TabularInfo;
  /** Set while an asynchronous tabular ingest is pending (epoch ms of completion). */
  ingestPendingUntil?: number;
  ingestProblem?: string;
  /** Users (by '@username') granted file access (grantAccess). */
  accessGrants: string[];
}

export interface RoleAssignmentRec {
  id: number;
  assignee: string; // '@username'
  role: RoleAlias;
  definitionPointId: number;
}

export type RoleAlias =
  | 'admin'
  | 'curator'
  | 'contributor'
  | 'dsContributor'
  | 'member'
  | 'fileDownloader';

export interface Counters {
  dvObject: number;
  version: number;
  fileMetadata: number;
  roleAssignment: number;
  user: number;
  variable: number;
}

export interface State {
  schema: 1;
  counters: Counters;
  users: UserRec[];
  collections: CollectionRec[];
  datasets: DatasetRec[];
  dataFiles: DataFileRec[];
  roleAssignments: RoleAssignmentRec[];
}

export function emptyState(): State {
  return {
    schema: 1,
    counters: { dvObject: 0, version: 0, fileMetadata: 0, roleAssignment: 0, user: 0, variable: 0 },
    users: [],
    collections: [],
    datasets: [],
    dataFiles: [],
    roleAssignments: [],
  };
}
