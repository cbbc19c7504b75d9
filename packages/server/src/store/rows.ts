/** Conversions shared by the stores: the drivers return Date and Uint8Array/Buffer. */
export function ms(value: Date | string | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  return value instanceof Date ? value.getTime() : Date.parse(value);
}

export function iso(value: number | null | undefined): string | null {
  return value === null || value === undefined ? null : new Date(value).toISOString();
}

export function bytes(value: Uint8Array | null | undefined): Buffer | null {
  return value ? Buffer.from(value) : null;
}
