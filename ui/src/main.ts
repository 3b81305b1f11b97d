/**
 * The console's entry: a hash router (`#/hosts`, `#/vms`, `#/vms/<id>`, `#/audit`, `#/queues`) over
 * views that each render into <main> and stop their live feeds when left.
 */
import { ApiError, session } from './api.js';
import { errorLine, h, mount } from './dom.js';
import { auditView } from './views/audit.js';
import { hostsView } from './views/hosts.js';
import { loginView } from './views/login.js';
import { queuesView } from './views/queues.js';
import { vmView } from './views/vm.js';
import { vmsView } from './views/vms.js';

let current: AbortController | undefined;

async function route(): Promise<void> {
  current?.abort();
  const ctl = new AbortController();
  current = ctl;
  // Each route renders into an element of its own: a view still loading when the user moves on (a
  // slow VM list, then a click on Queues) finishes into a node no longer on the page instead of
  // replacing the view now shown.
  const root = h('div');
  mount(document.getElementById('view')!, root);
  const path = location.hash.replace(/^#/, '') || '/vms';
  document.body.classList.toggle('anonymous', !session.token());
  if (!session.token()) return loginView(root);
  mount(root, h('p', {}, 'loading…'));
  try {
    const vm = /^\/vms\/([^/]+)$/.exec(path);
    if (vm) await vmView(root, ctl.signal, decodeURIComponent(vm[1]!));
    else if (path === '/hosts') await hostsView(root);
    else if (path === '/audit') await auditView(root);
    else if (path === '/queues') await queuesView(root);
    else await vmsView(root, ctl.signal);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      session.logout();
      return route();
    }
    if (!ctl.signal.aborted) mount(root, errorLine(err));
  }
}

document.getElementById('logout')!.addEventListener('click', () => {
  session.logout();
  location.hash = '#/login';
  void route();
});
window.addEventListener('hashchange', () => void route());
void route();
