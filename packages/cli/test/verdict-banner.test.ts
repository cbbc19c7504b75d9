import { describe, expect, it } from 'vitest';
import { renderVerdict } from '../src/verdict-banner.ts';
import type { ScanVerdict } from '../src/api-types.ts';

const verdict = (result: ScanVerdict['result'], reason: ScanVerdict['reason']): ScanVerdict =>
  ({
    result,
    reason,
    message: 'm',
    direction: 'entry',
    ticket: null,
  }) as unknown as ScanVerdict;

describe('renderVerdict', () => {
  it("colours by core's tone: a used ticket is red as on the scanner app, a double read amber", () => {
    const red = '\x1b[1;97;41m';
    const amber = '\x1b[1;30;43m';
    expect(renderVerdict(verdict('duplicate', 'already_used'), { color: true, columns: 80 })[0]).toContain(red);
    expect(renderVerdict(verdict('duplicate', 'already_used'), { color: false, columns: 80 })[1]).toContain('✖');
    expect(renderVerdict(verdict('duplicate', 'double_read'), { color: true, columns: 80 })[0]).toContain(amber);
    expect(renderVerdict(verdict('valid', 'admitted'), { color: false, columns: 80 })[0]).toBe('='.repeat(80));
  });
});
