// CSV as spreadsheets open it well: UTF-8 with a byte-order mark (so Excel reads Chinese right),
// CRLF line ends, RFC 4180 quoting, and no cell a spreadsheet would run as a formula.

import type { Cell } from './xlsx'

/** Text a spreadsheet would take for a formula gets a leading apostrophe (CSV injection). */
export function neutralise(s: string): string {
  return /^[=+\-@]/.test(s) ? "'" + s : s
}

/** One field: quoted when it holds a comma, a quote or a line break; quotes doubled. */
export function csvField(v: Cell): string {
  if (v === null || v === undefined) return ''
  const s = typeof v === 'number' ? String(v) : neutralise(v)
  return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s
}

/** The whole file's text, starting with the byte-order mark. */
export function csv(header: string[], rows: Cell[][]): string {
  const lines = [header, ...rows].map((r) => r.map(csvField).join(','))
  return '\ufeff' + lines.join('\r\n') + '\r\n'
}

export const CSV_TYPE = 'text/csv;charset=utf-8'
