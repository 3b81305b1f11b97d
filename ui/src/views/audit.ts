import { api, authHeaders } from '../api.js';
import { errorLine, h, mount } from '../dom.js';

interface VerifyReport {
  verified: boolean;
  count: number;
  streams: number;
  firstBreak: null | { streamId: string; revision: number; expected: string; found: string };
  [field: string]: unknown;
}

/** The chain verification, the seals, and an export download (fetched with the token, not a link carrying it). */
export async function auditView(root: HTMLElement): Promise<void> {
  const verify = h('section', { id: 'verify' }, 'verifying…');
  const seals = h('section', { id: 'seals' });
  const exportStatus = h('span');
  const exportButton = h('button', { type: 'button', id: 'export' }, 'Download export (NDJSON)');
  exportButton.addEventListener('click', () => {
    fetch('/v1/audit/export', { headers: authHeaders() })
      .then(async (res) => {
        if (!res.ok) throw new Error(`${res.status} ${(await res.text()) || res.statusText}`);
        const url = URL.createObjectURL(await res.blob());
        const a = h('a', { href: url, download: 'virtledger-export.ndjson' });
        a.click();
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
        mount(exportStatus, ' downloaded');
      })
      .catch((err: unknown) => mount(exportStatus, errorLine(err)));
  });
  mount(root, h('h1', {}, 'Audit'), verify, h('p', {}, exportButton, exportStatus), seals);
  await Promise.all([
    api<VerifyReport>('GET', '/v1/audit/verify')
      .then((r) => mount(verify, verifyBlock(r)))
      .catch((err: unknown) => mount(verify, errorLine(err))),
    api<unknown>('GET', '/v1/audit/seals')
      .then((s) => mount(seals, h('h2', {}, 'Seals'), sealList(s)))
      .catch((err: unknown) => mount(seals, h('h2', {}, 'Seals'), errorLine(err))),
  ]);
}

function verifyBlock(r: VerifyReport): HTMLElement[] {
  const b = r.firstBreak;
  return [
    h('h2', {}, 'Hash chain'),
    h(
      'p',
      { class: r.verified ? 'ok' : 'error', 'data-verified': String(r.verified) },
      r.verified
        ? `Verified: ${r.count} events in ${r.streams} streams.`
        : `TAMPERED: ${b ? `${b.streamId} revision ${b.revision}: expected ${b.expected}, found ${b.found}` : 'see details'}`,
    ),
    h('details', {}, h('summary', {}, 'Full report'), h('pre', {}, JSON.stringify(r, null, 2))),
  ];
}

function sealList(body: unknown): HTMLElement {
  const items = Array.isArray(body) ? body : ((body as { items?: unknown[] } | null)?.items ?? []);
  if (items.length === 0) return h('p', {}, 'No seals yet.');
  return h(
    'ol',
    {},
    items.map((s) => h('li', {}, h('pre', {}, JSON.stringify(s, null, 2)))),
  );
}
