/**
 * Talking to a running Entrada server over HTTP for benchmarks: a keep-alive
 * undici Pool, plus the set-up steps every scanning benchmark needs (an event
 * with zones, gates and ticket types; tickets in bulk; devices with scan
 * sessions).
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';

export interface Reply<T> {
  status: number;
  body: T;
}

export class Api {
  readonly pool: Pool;

  constructor(
    readonly baseUrl: string,
    opts: { connections?: number; pipelining?: number } = {},
  ) {
    this.pool = new Pool(baseUrl, {
      connections: opts.connections ?? 8,
      pipelining: opts.pipelining ?? 1,
      keepAliveTimeout: 30_000,
      headersTimeout: 120_000,
      bodyTimeout: 120_000,
    });
  }

  async call<T = unknown>(
    method: 'GET' | 'POST' | 'PUT',
    path: string,
    token: string | null,
    body?: unknown,
  ): Promise<Reply<T>> {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await this.pool.request({
      method,
      path,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.body.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // Not JSON: keep the text.
    }
    return { status: res.statusCode, body: parsed as T };
  }

  /** The call, or an error naming the step when the status is not `expect`. */
  async expect<T = unknown>(
    status: number,
    method: 'GET' | 'POST' | 'PUT',
    path: string,
    token: string | null,
    body?: unknown,
  ): Promise<T> {
    const r = await this.call<T>(method, path, token, body);
    if (r.status !== status)
      throw new Error(`${method} ${path}: expected ${status}, got ${r.status} ${JSON.stringify(r.body).slice(0, 500)}`);
    return r.body;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

export interface BenchEvent {
  eventId: string;
  zoneIds: string[];
  /** Gates every ticket type is admitted at. */
  gateIds: string[];
  typeIds: string[];
}

/**
 * An event open now (started yesterday, ends tomorrow) with two zones, `gates`
 * gates to the general zone and two ticket types (GA, VIP) that both include
 * the general zone, so every ticket is admitted at every gate.
 */
export async function createBenchEvent(api: Api, adminToken: string, gates = 4): Promise<BenchEvent> {
  const now = Date.now();
  const ev = await api.expect<{ id: string }>(201, 'POST', '/api/v1/events', adminToken, {
    name: 'Benchmark Festival',
    starts_at: new Date(now - 86_400_000).toISOString(),
    ends_at: new Date(now + 86_400_000).toISOString(),
    timezone: 'Europe/Amsterdam',
  });
  const eventId = ev.id;
  const general = (
    await api.expect<{ id: string }>(201, 'POST', `/api/v1/events/${eventId}/zones`, adminToken, {
      name: 'General',
      capacity: 200_000,
    })
  ).id;
  const vip = (
    await api.expect<{ id: string }>(201, 'POST', `/api/v1/events/${eventId}/zones`, adminToken, {
      name: 'VIP',
      capacity: 5_000,
    })
  ).id;
  const gateIds: string[] = [];
  for (let g = 1; g <= gates; g++) {
    gateIds.push(
      (
        await api.expect<{ id: string }>(201, 'POST', `/api/v1/events/${eventId}/gates`, adminToken, {
          name: `Gate ${g}`,
          zone_ids: [general],
        })
      ).id,
    );
  }
  const ga = (
    await api.expect<{ id: string }>(201, 'POST', `/api/v1/events/${eventId}/ticket-types`, adminToken, {
      name: 'GA',
      zone_ids: [general],
    })
  ).id;
  const vipType = (
    await api.expect<{ id: string }>(201, 'POST', `/api/v1/events/${eventId}/ticket-types`, adminToken, {
      name: 'VIP',
      zone_ids: [general, vip],
    })
  ).id;
  return { eventId, zoneIds: [general, vip], gateIds, typeIds: [ga, vipType] };
}

export interface BulkCreateResult {
  codes: string[];
  callMs: number[];
  totalMs: number;
}

/**
 * Issues `total` tickets in calls of `perCall` (Entrada signs the codes), one
 * call after the other, timing each call client-side (request, server work,
 * and reading the reply with its codes). One in 50 tickets is VIP; every
 * ticket has a holder name.
 */
export async function bulkCreateTickets(
  api: Api,
  adminToken: string,
  event: BenchEvent,
  total: number,
  perCall = 10_000,
): Promise<BulkCreateResult> {
  const codes: string[] = [];
  const callMs: number[] = [];
  const t0 = performance.now();
  for (let done = 0; done < total; done += perCall) {
    const n = Math.min(perCall, total - done);
    const tickets = Array.from({ length: n }, (_, i) => ({
      ticket_type_id: (done + i) % 50 === 0 ? event.typeIds[1]! : event.typeIds[0]!,
      holder_name: `Guest ${done + i + 1}`,
    }));
    const c0 = performance.now();
    const body = await api.expect<{ tickets: Array<{ code: string }> }>(
      201,
      'POST',
      `/api/v1/events/${event.eventId}/tickets`,
      adminToken,
      { tickets },
    );
    callMs.push(performance.now() - c0);
    for (const t of body.tickets) codes.push(t.code);
  }
  return { codes, callMs, totalMs: performance.now() - t0 };
}

export interface BenchDevice {
  deviceId: string;
  token: string;
  gateId: string;
  sessionId: string;
  /** Precomputed request headers for scans. */
  headers: Record<string, string>;
}

/**
 * Registers `count` scanner devices (of the organisation, not bound to one event); each starts a scan session at
 * a gate of `event` (round robin), which warms the server's ticket cache for it.
 */
export async function registerScanners(
  api: Api,
  adminToken: string,
  event: BenchEvent,
  count: number,
): Promise<BenchDevice[]> {
  const devices: BenchDevice[] = [];
  for (let i = 0; i < count; i++) {
    const d = await api.expect<{ device_id: string; token: string }>(201, 'POST', '/api/v1/devices', adminToken, {
      name: `Scanner ${i + 1}`,
      device_id: `bench-scanner-${String(i + 1).padStart(3, '0')}`,
    });
    const gateId = event.gateIds[i % event.gateIds.length]!;
    const session = await api.expect<{ id: string }>(201, 'POST', '/api/v1/scanning/sessions', d.token, {
      event_id: event.eventId,
      gate_id: gateId,
      direction: 'entry',
    });
    devices.push({
      deviceId: d.device_id,
      token: d.token,
      gateId,
      sessionId: session.id,
      headers: { authorization: `Bearer ${d.token}`, 'content-type': 'application/json' },
    });
  }
  return devices;
}

/** Where a scan without a session says it happens (`{code, event_id, gate_id}`). */
export interface ScanPlace {
  eventId: string;
  gateId: string;
}

/**
 * One online scan, in the device's session or, given `place`, without one; resolves to the verdict's `result`,
 * or `http_<status> <error>` for a non-200 reply.
 */
export async function scanOnce(pool: Pool, device: BenchDevice, code: string, place?: ScanPlace): Promise<string> {
  const res = await pool.request({
    method: 'POST',
    path: '/api/v1/scanning/scan',
    headers: device.headers,
    body: JSON.stringify(
      place ? { code, event_id: place.eventId, gate_id: place.gateId } : { code, session_id: device.sessionId },
    ),
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) {
    let error = '';
    try {
      error = (JSON.parse(text) as { error?: string }).error ?? '';
    } catch {
      error = text.slice(0, 60);
    }
    return `http_${res.statusCode} ${error}`.trim();
  }
  return (JSON.parse(text) as { result: string }).result;
}
