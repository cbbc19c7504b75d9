import Fastify from 'fastify';
import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkResponsesAgainstSchemas } from '../src/http/response-check.ts';
import { Client, pgliteBackend, startTestServer, type TestDatabase, type TestServer } from './harness.ts';

/**
 * The routes that deliberately answer without a JSON response schema: a stream or a file, not a JSON object the
 * serializer writes. Anything else without one fails below: a new route declares what it answers.
 */
const NOT_JSON = new Set([
  'get /api/v1/events/{eventId}/live', // server-sent events
  'get /api/v1/events/{eventId}/scans.csv', // CSV, streamed
]);

interface Operation {
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}

describe('response schemas (from the OpenAPI document)', () => {
  let tdb: TestDatabase;
  let server: TestServer;
  beforeAll(async () => {
    tdb = await pgliteBackend.open();
    server = await startTestServer(tdb.db);
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  it('declares a success schema and the error body on every JSON route of the API', async () => {
    const doc = (await new Client(server.url, null).get('/docs/json')).body as {
      paths: Record<string, Record<string, Operation>>;
    };
    const routes = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/api/'))
      .flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ key: `${method} ${path}`, op })));
    expect(routes.length).toBeGreaterThan(80);
    const missing: string[] = [];
    const withoutErrors: string[] = [];
    for (const { key, op } of routes) {
      const statuses = Object.keys(op.responses ?? {});
      if (!statuses.includes('4XX') && !statuses.includes('4xx')) withoutErrors.push(key);
      if (NOT_JSON.has(key)) continue;
      // 204 answers carry no body: the status alone is the declaration.
      const success = statuses.filter((s) => /^2\d\d$/.test(s));
      if (success.length === 0) missing.push(key);
    }
    expect(missing, 'routes without a 2xx response schema').toEqual([]);
    expect(withoutErrors, 'routes without the shared error body').toEqual([]);
    // The exceptions are real routes (a renamed one must leave the list).
    for (const key of NOT_JSON) expect(routes.map((r) => r.key)).toContain(key);
  });
});

describe('the response check (tests run with it)', () => {
  const build = async (check: boolean) => {
    const app = Fastify();
    if (check) checkResponsesAgainstSchemas(app);
    app.get('/thing', { schema: { response: { 200: Type.Object({ id: Type.String() }) } } }, async () => ({
      id: 'a',
      forgotten: 1,
    }));
    app.get('/null', { schema: { response: { 200: Type.Object({ name: Type.String() }) } } }, async () => ({
      name: null,
    }));
    await app.ready();
    return app;
  };

  it('fails an answer its schema would drop a field of, or coerce', async () => {
    const app = await build(true);
    expect((await app.inject('/thing')).statusCode).toBe(500);
    expect((await app.inject('/null')).statusCode).toBe(500);
    await app.close();
  });

  it('control: without it the field is silently dropped and the null written as ""', async () => {
    const app = await build(false);
    expect((await app.inject('/thing')).json()).toEqual({ id: 'a' });
    expect((await app.inject('/null')).json()).toEqual({ name: '' });
    await app.close();
  });
});
