// Builtin users and their API tokens.
import { randomUUID } from 'node:crypto';
import type { ServerConfig } from './config.js';
import type { ApiToken, UserRec } from './model.js';
import type { Store } from './store.js';
import { isoSeconds } from './json.js';

export interface NewUser {
  username: string;
  firstName: string;
  lastName: string;
  email: string;
  affiliation?: string;
  position?: string;
  password?: string;
  superuser?: boolean;
}

export function newToken(config: ServerConfig): ApiToken {
  const now = Date.now();
  return {
    value: randomUUID(),
    created: isoSeconds(now),
    expires: isoSeconds(now + config.tokenLifetimeDays * 86_400_000),
  };
}

export function createUser(store: Store, config: ServerConfig, u: NewUser): UserRec {
  const user: UserRec = {
    id: store.nextId('user'),
    username: u.username,
    firstName: u.firstName,
    lastName: u.lastName,
    email: u.email,
    affiliation: u.affiliation,
    position: u.position,
    password: u.password,
    superuser: u.superuser ?? false,
    deactivated: false,
    createdTime: isoSeconds(),
    token: newToken(config),
  };
  store.addUser(user);
  return user;
}

/** java.sql.Timestamp.toString() style: "2026-11-22 14:07:00.0" (used in token messages). */
export function timestampString(iso: string): string {
  return `${iso.replace('T', ' ').replace('Z', '')}.0`;
}
