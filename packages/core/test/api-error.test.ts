import { describe, expect, it } from 'vitest';
import { parseApiError, parseRetryAfter } from '../src/index.ts';

describe('parseApiError', () => {
  it('reads our error shape, its Retry-After and its details', () => {
    const f = parseApiError(429, { error: 'RATE_LIMITED', message: 'Slow down', retry_after_s: 7 }, '7', 0);
    expect(f).toEqual({
      status: 429,
      code: 'RATE_LIMITED',
      message: 'Slow down',
      retryAfterMs: 7000,
      details: { retry_after_s: 7 },
    });
  });

  it("takes the body's retry_after_s when the header is missing, and an HTTP date relative to now", () => {
    expect(parseApiError(503, { error: 'BUSY', message: 'm', retry_after_s: 3 }, null, 0).retryAfterMs).toBe(3000);
    expect(parseRetryAfter('Thu, 01 Jan 1970 00:00:10 GMT', 4000)).toBe(6000);
    expect(parseRetryAfter('soon', 0)).toBeNull();
  });

  it('turns a body that is not ours into HTTP_<status>, keeping an unknown code aside', () => {
    expect(parseApiError(502, '<html>Bad gateway</html>', null, 0)).toMatchObject({
      code: 'HTTP_502',
      message: 'HTTP 502',
    });
    expect(
      parseApiError(400, { error: 'Bad Request', message: 'Client Error', statusCode: 400 }, null, 0),
    ).toMatchObject({ code: 'HTTP_400', details: { unrecognised_code: 'Bad Request', statusCode: 400 } });
    expect(parseApiError(500, null, null, 0).code).toBe('HTTP_500');
    expect(parseApiError(400, [1, 2], null, 0).code).toBe('HTTP_400');
  });
});
