/** CSV writing (RFC 4180). Reading is csv-parse's job; see tickets-import. */

export function csvField(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  // Leading/trailing blanks are quoted too, so spreadsheet tools keep them.
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvRow(values: Array<string | number | boolean | null | undefined>): string {
  return values.map(csvField).join(',') + '\n';
}
