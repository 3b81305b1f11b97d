import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';
import helmet from 'helmet';
import { AppModule } from './app.module.js';
import { toErrorBody, ErrorFilter } from '../http/error.filter.js';
import { answerClientErrors } from '../http/client-error.js';
import { keepIdleConnections } from '../http/keep-alive.js';
import { rejectNonFinite } from '../http/json-reviver.js';
import { requireJsonBody } from '../http/json-content-type.js';
import { AdmissionGate } from '../http/admission.js';
import { redactUrl } from '../http/redact-url.js';
import type { HttpPorts } from '../http/tokens.js';
import { createValidationPipe } from '../http/validation.js';
import { openApiDocument } from '../http/openapi/document.js';
import { httpPorts } from './http-ports.js';
import { serveWebConsole } from './web-console.js';
import { attachConsoleUpgrade } from '../modules/console/console-upgrade.js';
import { ConsoleService } from '../modules/console/console.service.js';
import { TokenVerifier } from '../http/auth/token-verifier.js';
import type { Runtime } from './runtime.js';

/** Builds the Nest HTTP app over a runtime's ports; does not listen. */
export async function createHttpApp(runtime: Runtime): Promise<NestExpressApplication> {
  return createHttpAppOver(httpPorts(runtime));
}

/** The same over ports built elsewhere (doubles in a test). */
export async function createHttpAppOver(ports: HttpPorts): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(ports), {
    bodyParser: false,
    logger: ['error', 'warn'],
  });
  answerClientErrors(app.getHttpServer());
  keepIdleConnections(app.getHttpServer());
  // ETags are ours (stream revisions), not Express's body hashes.
  app.set('etag', false);
  app.use(helmet(helmetOptions()));
  serveWebConsole(app);
  app.use(requireJsonBody);
  app.useBodyParser('json', { limit: ports.config.bodyLimit, strict: true, reviver: rejectNonFinite });
  // After the JSON body is in, not before: a client trickling its body (slowloris) is not yet work
  // for the server and must not take a place; with the gate first, 64 unauthenticated slow bodies
  // would have had every request refused. A refused command has still appended nothing.
  const gate = new AdmissionGate(ports.config.maxRequestsInFlight, (method) =>
    ports.metrics.observeRequest(method, '(refused: busy)', 429),
  );
  app.use(gate.middleware);
  app.use((req: Request, res: Response, next: NextFunction) => {
    const t0 = performance.now();
    res.on('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
      ports.metrics.observeRequest(req.method, route, res.statusCode, performance.now() - t0);
      ports.log.debug(
        {
          method: req.method,
          url: redactUrl(req.originalUrl),
          status: res.statusCode,
          ms: Math.round(performance.now() - t0),
        },
        'http',
      );
    });
    next();
  });
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new ErrorFilter(ports.log));
  app.enableShutdownHooks();
  const doc = openApiDocument(app);
  SwaggerModule.setup('docs', app, doc);
  await app.init();
  // The serial console's WebSocket: upgrades never reach Nest's router.
  attachConsoleUpgrade(app.getHttpServer(), {
    service: app.get(ConsoleService),
    verifier: app.get(TokenVerifier),
    log: ports.log,
  });
  // Errors raised before routing (body parser: bad JSON, too large) get the same error shape.
  app.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const body = toErrorBody(err);
    res.status(body.statusCode).json(body);
  });
  return app;
}

/**
 * The server speaks plain HTTP (TLS, when any, ends in front of it): HSTS and the
 * `upgrade-insecure-requests` CSP directive would make a browser on another
 * machine fetch /docs' scripts over https, where nothing answers.
 */
function helmetOptions(): Parameters<typeof helmet>[0] {
  return {
    strictTransportSecurity: false,
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
  };
}
