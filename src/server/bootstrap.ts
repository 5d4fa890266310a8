// A fresh data directory gets what a new Dataverse installation has: the root
// collection and the `dataverseAdmin` superuser. The admin's token is written
// to <data-dir>/admin-token (mode 0600), never printed.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Store } from './store.js';
import type { ServerConfig } from './config.js';
import { isoSeconds } from './json.js';
import { createUser } from './users.js';

export const ADMIN_TOKEN_FILE = 'admin-token';

export async function bootstrap(store: Store, config: ServerConfig): Promise<void> {
  if (store.root()) return;
  const admin = createUser(store, config, {
    username: 'dataverseAdmin',
    firstName: 'Dataverse',
    lastName: 'Admin',
    email: 'dataverse@mailinator.com',
    superuser: true,
  });
  store.addCollection({
    id: store.nextId('dvObject'),
    alias: 'root',
    name: 'Root',
    dataverseType: 'UNDEFINED',
    contactEmails: ['root@mailinator.com'],
    description: 'The root dataverse.',
    creationDate: isoSeconds(),
    released: true,
    publicationDate: isoSeconds(),
    creatorId: admin.id,
  });
  await store.commit();
  await writeFile(path.join(store.dataDir, ADMIN_TOKEN_FILE), `${admin.token!.value}\n`, { mode: 0o600 });
}
