/// <reference lib="webworker" />
/** Parses a CSV file off the main thread (Papa Parse): the header row and every data row as strings. */
import Papa from 'papaparse';

export interface ParsedCsv {
  headers: string[];
  rows: string[][];
  errors: Array<{ row: number; message: string }>;
}

self.onmessage = (e: MessageEvent<File | string>) => {
  Papa.parse<string[]>(e.data, {
    skipEmptyLines: 'greedy',
    complete(result) {
      const [headers = [], ...rows] = result.data;
      const errors = result.errors.map((er) => ({ row: (er.row ?? 0) + 1, message: er.message }));
      (self as unknown as Worker).postMessage({
        headers: headers.map((h) => h.trim()),
        rows,
        errors,
      } satisfies ParsedCsv);
    },
    error(err) {
      (self as unknown as Worker).postMessage({
        headers: [],
        rows: [],
        errors: [{ row: 0, message: err.message }],
      } satisfies ParsedCsv);
    },
  });
};
