import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import { installAuthentication } from './http/authentication.ts';
import { clientErrorHandler, frameworkErrors, installErrorHandling, MAX_URL_LENGTH } from './http/errors.ts';
import type { TrustProxy } from './config.ts';
import type { Services } from './services/container.ts';
import { accountRoutes } from './routes/accounts.ts';
import { adminTokenRoutes } from './routes/admin-tokens.ts';
import { deviceRoutes } from './routes/devices.ts';
import { eventRoutes } from './routes/events.ts';
import { healthRoutes } from './routes/health.ts';
import { scanningRoutes } from './routes/scanning.ts';
import { ticketRoutes } from './routes/tickets.ts';
import { offlineRoutes } from './routes/offline.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import { operationsRoutes } from './routes/operations.ts';
import { defaultConsoleDir, defaultWebDir, registerConsoleApp, registerWebApp } from './routes/web-app.ts';
import { pairingRoutes } from './routes/pairing.ts';
import { staffRoutes } from './routes/staff.ts';
import { liveRoutes } from './routes/live.ts';
import { fleetRoutes } from './routes/fleet.ts';
import { checkResponsesAgainstSchemas } from './http/response-check.ts';
import { declareErrorResponses } from './http/error-response.ts';

export interface AppOptions {
  logger: Logger | false;
  /** Trust X-Forwarded-For (behind a load balancer) so rate limits see client addresses (ENTRADA_TRUST_PROXY). */
  trustProxy?: TrustProxy;
  /** Folder of the built scanner app to serve at `/` (absent: a page explaining how to build it). */
  webDir?: string;
  /** Folder of the built organiser console to serve at `/console/` (ENTRADA_CONSOLE_DIR). */
  consoleDir?: string;
  /** Fail any answer its response schema would change (tests: see http/response-check.ts). */
  checkResponses?: boolean;
}

/** Builds the HTTP app; only the process entry point listens. */
export async function buildApp(services: Services, options: AppOptions): Promise<FastifyInstance> {
  // pino's Logger is a FastifyBaseLogger; the cast only widens fastify's generic logger type.
  const log = options.logger === false ? undefined : (options.logger as FastifyBaseLogger);
  const app = Fastify({
    ...(log === undefined ? { logger: false } : { loggerInstance: log }),
    // A hop count trusts the nearest N proxies (what Fastify does with a number, which its types do not list).
    trustProxy: typeof options.trustProxy === 'number' ? trustHops(options.trustProxy) : (options.trustProxy ?? false),
    bodyLimit: 1024 * 1024,
    // Every error in our shape (`{error, message}`, a listed code), also those raised before a route runs.
    clientErrorHandler: (err, socket) => clientErrorHandler(err, socket, log),
    frameworkErrors,
    // A path parameter of any length within the URL limit reaches its schema (a 400 naming it), not a bare 414 or 404.
    routerOptions: { maxParamLength: MAX_URL_LENGTH },
    // Unknown fields are errors, not silently dropped; no type coercion of bodies.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    logController: new OneLinePerRequest(),
  }).withTypeProvider<TypeBoxTypeProvider>();

  installErrorHandling(app);
  if (options.checkResponses) checkResponsesAgainstSchemas(app);

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Entrada API',
        version: services.version,
        description: 'Offline-first ticket scanning. Errors are `{error, message}`.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          // The console's session (POST /api/v1/auth/login); POST, PUT, PATCH and DELETE also need its x-csrf-token header.
          session: { type: 'apiKey', in: 'cookie', name: 'entrada_session' },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await app.register(apiRoutes(services));
  await registerConsoleApp(app, options.consoleDir ?? defaultConsoleDir());
  await registerWebApp(app, options.webDir ?? defaultWebDir());
  return app;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * 'sampled': a successful answer (below 400) is logged for one request in SAMPLE_EVERY, with `sampled`
     * saying so; refusals and errors always. For the scan route, whose thousands of lines a second said
     * nothing the scans table does not (issue 15).
     */
    requestLog?: 'sampled';
  }
}

export const SAMPLE_EVERY = 100;

/**
 * Fastify logs two lines per request ("incoming request", "request completed"); the second, written when the
 * answer is sent, carries the request's fields too, so the first is dropped (issue 15: per-request logging was
 * a measurable part of a scan's CPU), and routes may sample it (`config.requestLog`).
 */
class OneLinePerRequest extends LogController {
  private answered = 0;

  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    if (error) {
      reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
      return;
    }
    if (reply.statusCode < 400 && request.routeOptions.config.requestLog === 'sampled') {
      if (++this.answered % SAMPLE_EVERY !== 0) return;
      reply.log.info(
        { req: request, res: reply, responseTime: reply.elapsedTime, sampled: SAMPLE_EVERY },
        'request completed',
      );
      return;
    }
    reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}

function trustHops(hops: number): (address: string, hop: number) => boolean {
  return (_address, hop) => hop < hops;
}

/** Our routes, in one scope whose every route declares `config.auth` (the docs and the web app's files are public). */
const apiRoutes =
  (services: Services): FastifyPluginAsyncTypebox =>
  async (api) => {
    installAuthentication(api, services.auth);
    declareErrorResponses(api);
    await api.register(healthRoutes(services));
    await api.register(eventRoutes(services));
    await api.register(ticketRoutes(services));
    await api.register(deviceRoutes(services));
    await api.register(adminTokenRoutes(services));
    await api.register(accountRoutes(services));
    await api.register(pairingRoutes(services));
    await api.register(staffRoutes(services));
    await api.register(scanningRoutes(services));
    await api.register(offlineRoutes(services));
    await api.register(liveRoutes(services));
    await api.register(fleetRoutes(services));
    await api.register(operationsRoutes(services));
    await api.register(webhookRoutes(services));
  };
