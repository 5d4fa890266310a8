import type { Router } from '../http.js';
import type { RouteDeps } from './index.js';

export function registerControlRoutes(router: Router, deps: RouteDeps): void {
  void router;
  void deps; // TODO: implemented by the faults work package
}
