// Monthly safety reports on the server (GET/POST /api/v1/reports), typed from the OpenAPI document.
import { request, type Page, type Schemas } from './api'

export type ReportView = Schemas['ReportView']
export type MakeReport = Schemas['MakeReport']

export interface ReportQuery {
  month?: string
  after?: string | null
  limit?: number
}

export const reportApi = {
  list: (q: ReportQuery) => {
    const p = new URLSearchParams()
    if (q.month) p.set('month', q.month)
    if (q.after) p.set('after', q.after)
    if (q.limit) p.set('limit', String(q.limit))
    const s = p.toString()
    return request<Page<ReportView>>('GET', '/api/v1/reports' + (s ? '?' + s : ''))
  },
  make: (body: MakeReport) => request<ReportView>('POST', '/api/v1/reports', body),
}

/** `YYYY-MM` of a moment in Asia/Shanghai. */
export function shanghaiMonth(ms: number): string {
  const d = new Date(ms + 8 * 3600_000)
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`
}

/** A file size for people: 12 KB, 1.4 MB. */
export function fileSize(bytes: number): string {
  if (bytes < 1024 * 1024) return `${Math.max(1, Math.round(bytes / 1024))} KB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`
}
