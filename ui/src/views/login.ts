import { api, session } from '../api.js';
import { errorLine, h, mount } from '../dom.js';

/** Paste a token; it is checked against the API before the console opens. */
export function loginView(root: HTMLElement): void {
  const input = h('input', {
    type: 'password',
    id: 'token',
    name: 'token',
    autocomplete: 'off',
    required: true,
    size: 40,
  });
  const status = h('div');
  const form = h(
    'form',
    { class: 'inline', id: 'login' },
    h('label', { for: 'token' }, 'API token'),
    input,
    h('button', { type: 'submit' }, 'Log in'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    session.login(input.value.trim());
    api('GET', '/v1/hosts')
      .then(() => {
        location.hash = '#/vms';
      })
      .catch((err: unknown) => {
        session.logout();
        mount(status, errorLine(err));
      });
  });
  mount(root, h('h1', {}, 'Log in'), h('p', {}, 'Paste a bearer token. It stays in this tab only.'), form, status);
}
