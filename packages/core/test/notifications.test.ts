import { Value } from 'typebox/value';
import { describe, expect, it } from 'vitest';
import { WEBHOOK_EVENT_TYPES, WebhookCreateBody } from '../src/index.ts';

describe('webhook event types', () => {
  // The schema spells the types out (so their static type is the union); it must take exactly the listed ones.
  it('the create body accepts every listed type and nothing else', () => {
    for (const t of WEBHOOK_EVENT_TYPES)
      expect(Value.Check(WebhookCreateBody, { url: 'https://example.com/h', events: [t] }), t).toBe(true);
    expect(Value.Check(WebhookCreateBody, { url: 'https://example.com/h', events: ['scan.admitted'] })).toBe(false);
    expect(Value.Check(WebhookCreateBody, { url: 'https://example.com/h', events: [...WEBHOOK_EVENT_TYPES] })).toBe(
      true,
    );
    expect(
      Value.Check(WebhookCreateBody, { url: 'https://example.com/h', events: ['alert.raised', 'alert.raised'] }),
    ).toBe(false);
  });
});
