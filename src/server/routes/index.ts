// Every endpoint group of the server, registered in one place.
import type { Router } from '../http.js';
import type { Faults } from '../faults.js';
import type { RequestLog } from '../request-log.js';
import { registerUserRoutes } from './users.js';
import { registerCollectionRoutes } from './collections.js';
import { registerDatasetRoutes } from './datasets.js';
import { registerDirindexRoutes } from './dirindex.js';
import { registerSearchRoutes } from './search.js';
import { registerFileRoutes } from './files.js';
import { registerAccessRoutes } from './access.js';
import { registerControlRoutes } from './control.js';

export interface RouteDeps {
  faults: Faults;
  requestLog: RequestLog;
  log: (line: string) => void;
}

export function registerRoutes(router: Router, deps: RouteDeps): void {
  registerUserRoutes(router);
  registerCollectionRoutes(router);
  registerDatasetRoutes(router);
  registerDirindexRoutes(router);
  registerSearchRoutes(router);
  registerFileRoutes(router);
  registerAccessRoutes(router);
  registerControlRoutes(router, deps);
}
