/**
 * Forms are checked with the very TypeBox schemas the server uses (core/protocol),
 * and each error is said in words that name the field.
 */
import type { TSchema } from 'typebox';
import { Value } from 'typebox/value';

export type FieldErrors = Record<string, string>;

/** Checks `value` against `schema`; returns one message per field (by top-level field name, or `path` like `zone_ids`). */
export function validate(schema: TSchema, value: unknown, labels: Record<string, string>): FieldErrors {
  if (Value.Check(schema, value)) return {};
  const out: FieldErrors = {};
  for (const e of Value.Errors(schema, value)) {
    const raw = e as unknown as {
      instancePath?: string;
      path?: string;
      keyword?: string;
      params?: Record<string, unknown>;
      message?: string;
    };
    const path = (raw.instancePath ?? raw.path ?? '').replace(/^\//, '');
    if (path === '' && raw.keyword === 'required' && raw.params && Array.isArray(raw.params.requiredProperties)) {
      for (const f of raw.params.requiredProperties as unknown[])
        out[String(f)] ??= `${labels[String(f)] ?? String(f)} is needed.`;
      continue;
    }
    const field = path.split('/')[0] ?? '';
    if (out[field]) continue;
    out[field] = words(labels[field] ?? (field || 'This form'), raw.keyword ?? '', raw.params ?? {});
  }
  return out;
}

function words(label: string, keyword: string, params: Record<string, unknown>): string {
  switch (keyword) {
    case 'required':
      return `${label} is needed.`;
    case 'minLength':
      return Number(params.limit) <= 1
        ? `${label} cannot be empty.`
        : `${label} needs at least ${String(params.limit)} characters.`;
    case 'maxLength':
      return `${label} is too long (at most ${String(params.limit)} characters).`;
    case 'minimum':
      return `${label} must be ${String(params.limit)} or more.`;
    case 'maximum':
      return `${label} must be ${String(params.limit)} or less.`;
    case 'pattern':
      return `${label} is not in the right form.`;
    case 'minItems':
      return `Choose at least ${String(params.limit)} for ${label.toLowerCase()}.`;
    case 'maxItems':
      return `${label}: at most ${String(params.limit)}.`;
    case 'uniqueItems':
      return `${label} lists the same thing twice.`;
    case 'type':
      return `${label} has the wrong kind of value (a whole number, say).`;
    case 'format':
      return `${label} is not a valid date and time.`;
    case 'additionalProperties':
      return `${label} has a field the server does not accept.`;
    default:
      return `${label} is not valid.`;
  }
}
