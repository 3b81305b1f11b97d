import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { ServerResponse } from 'node:http';

/**
 * The web console's policy: scripts, styles, images and API calls from this origin
 * only; no inline code, no framing. No `upgrade-insecure-requests`: the server
 * speaks plain HTTP and the console must load from another machine.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Where the console's files are, relative to this module once compiled
 * (dist/src/runtime/): the page and stylesheet from ui/public, the scripts
 * compiled by `tsc -p ui/tsconfig.json` into dist/ui.
 */
export function consoleDirs(): string[] {
  const root = new URL('../../../', import.meta.url);
  return [fileURLToPath(new URL('ui/public/', root)), fileURLToPath(new URL('dist/ui/', root))].filter((d) =>
    existsSync(d),
  );
}

/** Serves the console's static files at /ui/ (and /ui → /ui/) with its CSP. */
export function serveWebConsole(app: NestExpressApplication): void {
  for (const dir of consoleDirs()) {
    app.useStaticAssets(dir, {
      prefix: '/ui/',
      index: 'index.html',
      redirect: true,
      fallthrough: true,
      dotfiles: 'ignore',
      setHeaders: (res: ServerResponse) => {
        res.setHeader('Content-Security-Policy', CONSOLE_CSP);
        // Always revalidate: a redeploy must not leave a browser running old scripts against a new API.
        res.setHeader('Cache-Control', 'no-cache');
      },
    });
  }
}
