// Export of the matter list: every row matching the list's filters (the API keeps to the caller's
// scope), walked page by page through the list's cursor, as CSV or XLSX.

import { api, type Matter, type Query } from './api'
import { i18n, tr } from './i18n'
import { categoryName, loadCatalogue } from './store'
import { fileStamp, isoTime } from './format'
import { csv, CSV_TYPE } from './csv'
import { xlsx, XLSX_TYPE, type Cell } from './xlsx'

export type ExportFormat = 'csv' | 'xlsx'

/** The largest page the list API gives. */
export const EXPORT_PAGE = 1000

interface Column {
  key: string
  /** Width in characters (XLSX). */
  width: number
  value: (m: Matter) => Cell
}

const t = (key: string) => i18n.global.t(key)

const COLUMNS: Column[] = [
  { key: 'id', width: 8, value: (m) => m.id },
  { key: 'tracking', width: 14, value: (m) => m.tracking_code },
  { key: 'state', width: 10, value: (m) => tr('state', m.state, m.state_name) },
  { key: 'category', width: 22, value: (m) => (m.category_code ? categoryName(m.category_code) : '') },
  { key: 'severity', width: 10, value: (m) => tr('severity', m.severity) },
  { key: 'grid', width: 18, value: (m) => m.grid_code },
  { key: 'source', width: 10, value: (m) => tr('source', m.source) },
  { key: 'holder', width: 12, value: (m) => m.holder },
  { key: 'deadline', width: 17, value: (m) => isoTime(m.deadline) },
  { key: 'overdue', width: 8, value: (m) => t(m.overdue ? 'common.yes' : 'common.no') },
  { key: 'created', width: 17, value: (m) => isoTime(m.created_at) },
  { key: 'closed', width: 17, value: (m) => isoTime(m.closed_at) },
  { key: 'rating', width: 8, value: (m) => m.rating ?? null },
]

/** How far an export has come: rows fetched, and how many match (null when unknown). */
export interface ExportProgress {
  done: number
  total: number | null
}

/** Every matter passing `filters`, newest first; `onProgress` after each page. */
export async function fetchAllMatters(
  filters: Query,
  onProgress: (p: ExportProgress) => void,
  signal?: AbortSignal,
): Promise<Matter[]> {
  const progress: ExportProgress = { done: 0, total: null }
  // The count is for the progress bar only: the export goes on without it.
  api
    .counts(filters, signal)
    .then((c) => {
      progress.total = c.total
      onProgress({ ...progress })
    })
    .catch(() => undefined)
  await loadCatalogue().catch(() => undefined)
  const rows: Matter[] = []
  let after: string | null = null
  do {
    const page = await api.matters({ ...filters, after, limit: EXPORT_PAGE }, signal)
    rows.push(...page.items)
    after = page.next
    progress.done = rows.length
    onProgress({ ...progress })
  } while (after)
  return rows
}

/** The file's name, e.g. `pingan-matters-20261123-1530.xlsx` (China time). */
export function exportFileName(format: ExportFormat, now = Date.now()): string {
  return `pingan-matters-${fileStamp(now)}.${format}`
}

/** The file's bytes or text, headers in the current language. */
export function exportFile(matters: Matter[], format: ExportFormat): Blob {
  const header = COLUMNS.map((c) => t(`export.columns.${c.key}`))
  const rows = matters.map((m) => COLUMNS.map((c) => c.value(m)))
  if (format === 'csv') return new Blob([csv(header, rows)], { type: CSV_TYPE })
  const data = xlsx(header, rows, { name: t('export.sheet'), widths: COLUMNS.map((c) => c.width) })
  return new Blob([data], { type: XLSX_TYPE })
}

/** Saves `blob` as `name` through a Blob URL. */
export function download(blob: Blob, name: string) {
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = name
  a.style.display = 'none'
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 30_000)
}
