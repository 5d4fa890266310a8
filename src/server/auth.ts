// Who is calling, and what may they do. Permission names and role contents
// follow Dataverse's built-in roles; roles are inherited down the tree
// (collection → sub-collection → dataset → file).
import { apiError, type Ctx } from './http.js';
import type { DataFileRec, DatasetRec, RoleAlias, UserRec } from './model.js';
import type { Store } from './store.js';

export type Permission =
  | 'ViewUnpublishedDataverse'
  | 'ViewUnpublishedDataset'
  | 'EditDataverse'
  | 'AddDataverse'
  | 'AddDataset'
  | 'PublishDataverse'
  | 'DeleteDataverse'
  | 'ManageDataversePermissions'
  | 'EditDataset'
  | 'PublishDataset'
  | 'DeleteDatasetDraft'
  | 'ManageDatasetPermissions'
  | 'DownloadFile'
  | 'ManageFilePermissions';

const ALL: Permission[] = [
  'ViewUnpublishedDataverse',
  'ViewUnpublishedDataset',
  'EditDataverse',
  'AddDataverse',
  'AddDataset',
  'PublishDataverse',
  'DeleteDataverse',
  'ManageDataversePermissions',
  'EditDataset',
  'PublishDataset',
  'DeleteDatasetDraft',
  'ManageDatasetPermissions',
  'DownloadFile',
  'ManageFilePermissions',
];

export const ROLES: Record<RoleAlias, { name: string; permissions: Permission[] }> = {
  admin: { name: 'Admin', permissions: ALL },
  curator: {
    name: 'Curator',
    permissions: [
      'ViewUnpublishedDataverse',
      'ViewUnpublishedDataset',
      'AddDataverse',
      'AddDataset',
      'EditDataset',
      'PublishDataset',
      'DeleteDatasetDraft',
      'ManageDatasetPermissions',
      'DownloadFile',
      'ManageFilePermissions',
    ],
  },
  contributor: {
    name: 'Contributor',
    permissions: ['ViewUnpublishedDataset', 'AddDataset', 'EditDataset', 'DeleteDatasetDraft', 'DownloadFile'],
  },
  dsContributor: { name: 'Dataset Creator', permissions: ['AddDataset'] },
  member: {
    name: 'Member',
    permissions: ['ViewUnpublishedDataverse', 'ViewUnpublishedDataset', 'DownloadFile'],
  },
  fileDownloader: { name: 'File Downloader', permissions: ['DownloadFile'] },
};

export const BAD_API_KEY = 'Bad API key';

/** The token of a request: X-Dataverse-key header wins over ?key=. */
export function requestToken(ctx: Pick<Ctx, 'req' | 'query'>): string | undefined {
  const header = ctx.req.headers['x-dataverse-key'];
  if (typeof header === 'string') return header;
  const key = ctx.query.get('key');
  return key ?? undefined;
}

/** Resolve a token to a user; undefined means the token is bad, expired or its user deactivated. */
export function userForToken(store: Store, token: string): UserRec | undefined {
  const user = store.userByToken(token);
  if (!user || user.deactivated || !user.token) return undefined;
  if (Date.parse(user.token.expires) < Date.now()) return undefined;
  return user;
}

export function identifier(user: UserRec | undefined): string {
  return user ? `@${user.username}` : ':guest';
}

/** 401 "User @x is not permitted to perform requested action." (command PermissionException). */
export function notPermitted(user: UserRec | undefined) {
  return apiError(401, `User ${identifier(user)} is not permitted to perform requested action.`);
}

export function requireAuthenticated(ctx: Ctx): UserRec {
  if (!ctx.user) throw apiError(401, 'Only authenticated users can perform the requested operation');
  return ctx.user;
}

/** The dvObject ids whose role assignments apply to an object, object first. */
function definitionPoints(store: Store, dvObjectId: number): number[] {
  const ids: number[] = [];
  let collectionId: number | undefined;
  const file = store.file(dvObjectId);
  const dataset = file ? store.dataset(file.datasetId) : store.dataset(dvObjectId);
  if (file) ids.push(file.id);
  if (dataset) {
    ids.push(dataset.id);
    collectionId = dataset.ownerId;
  } else {
    collectionId = dvObjectId;
  }
  for (const c of store.collectionChain(collectionId)) ids.push(c.id);
  return ids;
}

export function hasPermission(store: Store, user: UserRec | undefined, perm: Permission, dvObjectId: number): boolean {
  if (!user) return false;
  if (user.superuser) return true;
  const who = `@${user.username}`;
  const points = new Set(definitionPoints(store, dvObjectId));
  for (const ra of store.state.roleAssignments) {
    if (ra.assignee === who && points.has(ra.definitionPointId) && ROLES[ra.role].permissions.includes(perm)) {
      return true;
    }
  }
  if (perm === 'DownloadFile') {
    const file = store.file(dvObjectId);
    if (file?.accessGrants.includes(who)) return true;
  }
  return false;
}

export function canEdit(store: Store, user: UserRec | undefined, ds: DatasetRec): boolean {
  return hasPermission(store, user, 'EditDataset', ds.id);
}

export function canViewUnpublished(store: Store, user: UserRec | undefined, ds: DatasetRec): boolean {
  return hasPermission(store, user, 'ViewUnpublishedDataset', ds.id);
}

export function canDownload(store: Store, user: UserRec | undefined, file: DataFileRec): boolean {
  return hasPermission(store, user, 'DownloadFile', file.id);
}
