// Patrols on the server (GET/POST /api/v1/patrols): kept apart from api.ts, typed by hand from
// /api/openapi.json. The phone uploads them through its offline queue (offline.ts).
import { i18n } from './i18n'
import { request, type Page } from './api'

export interface PatrolNoteView {
  at: number
  text: string
}

export interface PatrolView {
  id: number
  account_id: number
  account_name: string
  grid_code: string
  started_at: number
  ended_at: number
  notes: PatrolNoteView[]
  created_at: number
}

export interface PatrolQuery {
  /** Only patrols of grids under this region or grid code prefix. */
  under?: string
  after?: string | null
  limit?: number
}

export const patrolApi = {
  list: (q: PatrolQuery, signal?: AbortSignal) => {
    const p = new URLSearchParams()
    if (q.under) p.set('under', q.under)
    if (q.after) p.set('after', q.after)
    if (q.limit) p.set('limit', String(q.limit))
    const s = p.toString()
    return request<Page<PatrolView>>('GET', '/api/v1/patrols' + (s ? '?' + s : ''), undefined, undefined, signal)
  },
  get: (id: number) => request<PatrolView>('GET', `/api/v1/patrols/${id}`),
}

/** A code prefix the `under` filter takes: digits, at most a grid's 15. */
export const UNDER_RE = /^\d{1,15}$/

/** How long a patrol lasted: `1 小时 5 分` / `1 h 5 min`. */
export function patrolDuration(start: number, end: number): string {
  const t = i18n.global.t
  const min = Math.floor(Math.max(0, end - start) / 60000)
  if (min < 1) return t('patrols.lessThanMinute')
  if (min < 60) return t('patrols.minutes', { m: min })
  return t('patrols.hours', { h: Math.floor(min / 60), m: min % 60 })
}
