// Role assignments (RoleAssignment rows) and their JSON, as the real server's
// JsonPrinter.json(RoleAssignment) prints them.
import type { RoleAlias, RoleAssignmentRec } from './model.js';
import type { Store } from './store.js';
import { ROLES } from './auth.js';

/**
 * Database ids of the built-in roles, in the order a fresh installation loads
 * them (scripts/api/data/role-*.json): admin, fileDownloader, fullContributor,
 * dvContributor, dsContributor, contributor ("editor"), curator, member.
 */
const ROLE_IDS: Record<RoleAlias, number> = {
  admin: 1,
  fileDownloader: 2,
  dsContributor: 5,
  contributor: 6,
  curator: 7,
  member: 8,
};

export function isRoleAlias(s: string): s is RoleAlias {
  return Object.prototype.hasOwnProperty.call(ROLES, s);
}

/** Assign a role on a dvObject (collection or dataset); returns the existing row if the same one exists. */
export function assignRole(store: Store, assignee: string, role: RoleAlias, definitionPointId: number): RoleAssignmentRec {
  const existing = findAssignment(store, assignee, role, definitionPointId);
  if (existing) return existing;
  const ra: RoleAssignmentRec = { id: store.nextId('roleAssignment'), assignee, role, definitionPointId };
  store.state.roleAssignments.push(ra);
  return ra;
}

export function findAssignment(
  store: Store,
  assignee: string,
  role: RoleAlias,
  definitionPointId: number,
): RoleAssignmentRec | undefined {
  return store.state.roleAssignments.find(
    (r) => r.assignee === assignee && r.role === role && r.definitionPointId === definitionPointId,
  );
}

/** Assignments defined directly on a dvObject, by id. */
export function assignmentsOn(store: Store, definitionPointId: number): RoleAssignmentRec[] {
  return store.state.roleAssignments.filter((r) => r.definitionPointId === definitionPointId).sort((a, b) => a.id - b.id);
}

export function removeAssignment(store: Store, id: number): void {
  store.state.roleAssignments = store.state.roleAssignments.filter((r) => r.id !== id);
}

export function roleAssignmentJson(ra: RoleAssignmentRec): Record<string, unknown> {
  return {
    id: ra.id,
    assignee: ra.assignee,
    roleId: ROLE_IDS[ra.role],
    _roleAlias: ra.role,
    definitionPointId: ra.definitionPointId,
  };
}
