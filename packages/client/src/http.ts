import { parseApiError, parseRetryAfter, type ApiFailureCode } from '@entrada/core';
import type { Clock } from './clock.ts';

export { parseRetryAfter };

export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; signal: AbortSignal },
) => Promise<{
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}>;

export type ApiErrorKind = 'network' | 'timeout' | 'http';

/** Why a request failed, and whether trying again later can help. */
export class ApiError extends Error {
  constructor(
    readonly kind: ApiErrorKind,
    message: string,
    readonly status: number | null = null,
    /** From Retry-After, when the server said how long to wait. */
    readonly retryAfterMs: number | null = null,
    readonly body: unknown = null,
    /** The server's code from the closed list (`HTTP_<status>` when it sent none); null for network trouble and timeouts. */
    readonly code: ApiFailureCode | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** Network trouble, timeouts, 408, 429 and 5xx pass; 4xx are our mistake or a refusal and will not pass by waiting. */
  get retryable(): boolean {
    if (this.kind !== 'http') return true;
    const s = this.status ?? 0;
    return s === 408 || s === 429 || s >= 500;
  }
}

/** JSON over HTTP to the Entrada API with a device token; every call has a time budget. */
export class ApiClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
    private readonly fetchFn: FetchLike,
    private readonly clock: Clock,
  ) {}

  async request<T>(method: 'GET' | 'POST', path: string, body: unknown, timeoutMs: number): Promise<T> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = this.clock.setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    try {
      const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept: 'application/json' };
      const init: Parameters<FetchLike>[1] = { method, headers, signal: controller.signal };
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        init.body = JSON.stringify(body);
      }
      // Raced with the abort, so an injected fetch that ignores the signal still cannot outlive the budget.
      const aborted = new Promise<never>((_, reject) =>
        controller.signal.addEventListener('abort', () =>
          reject(new ApiError('timeout', `${method} ${path} took longer than ${timeoutMs} ms`)),
        ),
      );
      let res: Awaited<ReturnType<FetchLike>>;
      let text: string;
      try {
        res = await Promise.race([this.fetchFn(this.baseUrl + path, init), aborted]);
        text = await Promise.race([res.text(), aborted]);
      } catch (err) {
        if (err instanceof ApiError) throw err;
        if (timedOut) throw new ApiError('timeout', `${method} ${path} took longer than ${timeoutMs} ms`);
        throw new ApiError('network', `${method} ${path}: ${err instanceof Error ? err.message : String(err)}`);
      }
      let parsed: unknown = null;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        parsed = text;
      }
      if (res.status >= 200 && res.status < 300) return parsed as T;
      const failure = parseApiError(res.status, parsed, res.headers.get('retry-after'), this.clock.now());
      throw new ApiError('http', failure.message, res.status, failure.retryAfterMs, parsed, failure.code);
    } finally {
      this.clock.clearTimeout(timer);
    }
  }
}
