// The overview API (drill-down map, leader dashboard, possible duplicates) and helpers the
// map, dashboard and board pages share. Shapes from /api/openapi.json (crates/pingan-api/src/overview.rs).
import { request, type Matter } from './api'

export interface RegionRef {
  code: string
  name: string
  /** province, city, county, township or village. */
  level: string
}

export interface RegionView extends RegionRef {
  parent_code?: string | null
  active?: boolean
}

/** GeoJSON geometry as the API sends it (WGS-84 MultiPolygon). */
export interface Geometry {
  type: string
  coordinates: number[][][][]
}

export interface ChildProps {
  /** 12-digit region code, or a 15-digit grid code below a village. */
  code: string
  name: string
  open: number
  overdue: number
  /** Filed in the last `days` days. */
  filed: number
}

export interface ChildFeature {
  type: 'Feature'
  properties: ChildProps
  geometry: Geometry
}

export interface MapView {
  region: RegionView
  path: RegionRef[]
  outline: Geometry | null
  child_level: string
  days: number
  features: { type: 'FeatureCollection'; features: ChildFeature[] }
}

export interface CategoryCount {
  category_code: string
  name_zh: string
  name_en: string
  count: number
}

export interface ChildCounts {
  code: string
  name: string
  open: number
  overdue: number
}

export interface MonthFigures {
  month: string
  received: number
  due: number
  suspended: number
  closed: number
  closed_on_time: number
  closure_rate: number | null
  on_time_rate: number | null
}

export interface Dashboard {
  region: RegionView
  today: CategoryCount[]
  today_total: number
  child_level: string
  children: ChildCounts[]
  open: { open: number; overdue: number }
  month: MonthFigures
}

export interface PossibleDuplicate extends Matter {
  distance_m: number
}

export interface PointFeature {
  type: 'Feature'
  id: number
  geometry: { type: 'Point'; coordinates: [number, number] }
  properties: {
    id: number
    state: string
    category_code: string | null
    severity: string
    grid_code: string
    overdue: boolean
    supervised: boolean
    created_at: number
  }
}

export const overviewApi = {
  map: (code: string, days?: number) =>
    request<MapView>('GET', `/api/v1/map/${encodeURIComponent(code)}${days ? `?days=${days}` : ''}`),
  dashboard: (region?: string) =>
    request<Dashboard>('GET', `/api/v1/dashboard${region ? `?region=${encodeURIComponent(region)}` : ''}`),
  duplicates: (id: number) => request<PossibleDuplicate[]>('GET', `/api/v1/matters/${id}/duplicates`),
  points: (bbox: [number, number, number, number], state?: string, limit = 2000) =>
    request<{ type: 'FeatureCollection'; features: PointFeature[]; truncated?: boolean }>(
      'GET',
      `/api/v1/matters/geojson?bbox=${bbox.map((x) => x.toFixed(6)).join(',')}&limit=${limit}${state ? `&state=${state}` : ''}`,
    ),
}

/** The states of a matter still to be dealt with (neither closed nor ended). */
export const OPEN_STATES = [
  'reported', 'registered', 'dispatched', 'accepted', 'returned', 'handled', 'verified', 'rework', 'suspended', 'reopened',
]

/** The significant digits of a 12-digit region code (a 15-digit grid code is kept whole). */
export function regionPrefix(code: string): string {
  if (code.length !== 12) return code
  if (code.endsWith('0000000000')) return code.slice(0, 2)
  if (code.endsWith('00000000')) return code.slice(0, 4)
  if (code.endsWith('000000')) return code.slice(0, 6)
  if (code.endsWith('000')) return code.slice(0, 9)
  return code
}

/** west, south, east, north of some geometries; null when they hold no point. */
export function bboxOf(geoms: (Geometry | null | undefined)[]): [number, number, number, number] | null {
  let w = Infinity, s = Infinity, e = -Infinity, n = -Infinity
  for (const g of geoms) {
    for (const poly of g?.coordinates ?? []) {
      for (const ring of poly) {
        for (const [x, y] of ring) {
          if (x < w) w = x
          if (x > e) e = x
          if (y < s) s = y
          if (y > n) n = y
        }
      }
    }
  }
  return Number.isFinite(w) ? [w, s, e, n] : null
}

/** How long ago a deadline passed: `超期 3天4小时` / `3 d 4 h overdue`; '' when not passed. */
export function overdueBy(deadline: number | null | undefined, locale: string, now = Date.now()): string {
  if (deadline === null || deadline === undefined || deadline >= now) return ''
  const mins = Math.floor((now - deadline) / 60000)
  const d = Math.floor(mins / 1440)
  const h = Math.floor((mins % 1440) / 60)
  const m = mins % 60
  const zh = locale.startsWith('zh')
  let s: string
  if (d > 0) s = zh ? `${d}天${h}小时` : `${d} d ${h} h`
  else if (h > 0) s = zh ? `${h}小时${m}分钟` : `${h} h ${m} min`
  else s = zh ? `${m}分钟` : `${m} min`
  return zh ? `超期 ${s}` : `${s} overdue`
}

/** A rate as a percentage with one decimal, or — when there is none. */
export function percent(r: number | null | undefined): string {
  return r === null || r === undefined ? '—' : `${(r * 100).toFixed(1)}%`
}
