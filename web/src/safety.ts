// The safety report's API (平安报表: indicators, three-colour warnings, rankings, their settings and the
// immediate alerts; crates/pingan-api/src/indicators.rs) and helpers its pages share. Types are the
// schemas of the OpenAPI document; where it says `Object`, a local type refines it (`Narrows`, TODO(openapi)).
import { request, type Narrows, type RequestOf, type ResponseOf, type Schemas, type Page } from './api'
import { i18n } from './i18n'

export type IndicatorReport = ResponseOf<'/api/v1/indicators', 'get'>
export type IndicatorValue = Schemas['IndicatorValue']
export type Definition = Schemas['Definition']
export type Definitions = ResponseOf<'/api/v1/indicators/definitions', 'get'>
export type Ranking = ResponseOf<'/api/v1/rankings', 'get'>
export type RankedRegion = Schemas['RankedRegion']
export type Colour = 'green' | 'yellow' | 'red'
/** TODO(openapi): `RegionWarning.indicators` is `Object`; the server sends a colour per indicator id. */
export type RegionWarning = Narrows<Omit<Schemas['RegionWarning'], 'indicators'> & { indicators: Record<string, Colour> }, Schemas['RegionWarning']>
export type Warnings = Narrows<Omit<ResponseOf<'/api/v1/warnings', 'get'>, 'regions'> & { regions: RegionWarning[] }, ResponseOf<'/api/v1/warnings', 'get'>>
export type AlertView = Schemas['AlertView']
export type RegionView = Schemas['RegionView']

/** A warning rule (TODO(openapi): `RulesDoc.rules` items are `Object`; the server sends `WarningRule`). */
export type WarningRule = {
  indicator: string
  /** absolute, previous_period, same_period_last_year or siblings_median. */
  basis: string
  yellow: number
  red: number
}
export type RulesDoc = Narrows<{ version?: number | null; rules: WarningRule[] }, Schemas['RulesDoc']>

/** A node of the composite index (TODO(openapi): `IndexDoc.index` is `Object`; the server sends `IndexNode`). */
export type IndexNode = {
  name: string
  weight: number
  indicator?: string | null
  children?: IndexNode[]
}
export type IndexDoc = Narrows<{ version?: number | null; index: IndexNode }, Schemas['IndexDoc']>

/** TODO(openapi): `AlertSettingsDoc.settings` is `Object`; the server sends `AlertSettings`. */
export type AlertSettings = {
  red_flag_categories: string[]
  cluster_size: number
  cluster_hours: number
}
export type AlertSettingsDoc = Narrows<{ version?: number | null; settings: AlertSettings }, Schemas['AlertSettingsDoc']>

/** The period query every report takes. */
export interface PeriodQuery {
  period: string
  date?: string
  from?: string
  to?: string
}

type Q = Record<string, string | number | boolean | null | undefined>
function qs(q: Q): string {
  const p = new URLSearchParams()
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v))
  const s = p.toString()
  return s ? `?${s}` : ''
}

/** The period's parameters: `date` for a named period, `from`/`to` for a custom one. */
export function periodParams(p: PeriodQuery): Q {
  return p.period === 'custom' ? { period: 'custom', from: p.from, to: p.to } : { period: p.period, date: p.date }
}

export const safetyApi = {
  indicators: (q: { region?: string; category?: string; breakdown?: string } & PeriodQuery) =>
    request<IndicatorReport>('GET', '/api/v1/indicators' + qs({ region: q.region, category: q.category, breakdown: q.breakdown, ...periodParams(q) })),
  definitions: () => request<Definitions>('GET', '/api/v1/indicators/definitions'),
  warnings: (q: { parent?: string } & PeriodQuery) => request<Warnings>('GET', '/api/v1/warnings' + qs({ parent: q.parent, ...periodParams(q) })),
  rankings: (q: { parent?: string; indicator?: string } & PeriodQuery) =>
    request<Ranking>('GET', '/api/v1/rankings' + qs({ parent: q.parent, indicator: q.indicator, ...periodParams(q) })),
  alerts: (under: string, after?: number | null, limit = 20) =>
    request<AlertView[]>('GET', '/api/v1/alerts' + qs({ under, after, limit })),
  rules: () => request<RulesDoc>('GET', '/api/v1/warning-rules'),
  putRules: (doc: RulesDoc) => request<RulesDoc>('PUT', '/api/v1/warning-rules', doc satisfies RequestOf<'/api/v1/warning-rules', 'put'>),
  index: () => request<IndexDoc>('GET', '/api/v1/composite-index'),
  putIndex: (doc: IndexDoc) => request<IndexDoc>('PUT', '/api/v1/composite-index', doc satisfies RequestOf<'/api/v1/composite-index', 'put'>),
  alertSettings: () => request<AlertSettingsDoc>('GET', '/api/v1/alert-settings'),
  putAlertSettings: (doc: AlertSettingsDoc) =>
    request<AlertSettingsDoc>('PUT', '/api/v1/alert-settings', doc satisfies RequestOf<'/api/v1/alert-settings', 'put'>),
  region: (code: string) => request<RegionView>('GET', `/api/v1/regions/${encodeURIComponent(code)}`),
  children: (code: string) => request<Page<RegionView>>('GET', `/api/v1/regions/${encodeURIComponent(code)}/children?limit=1000`),
}

export const PERIODS = ['day', 'week', 'month', 'quarter', 'year', 'custom'] as const
export const COLOURS: Colour[] = ['green', 'yellow', 'red']
export const BASES = ['absolute', 'previous_period', 'same_period_last_year', 'siblings_median'] as const

const DAY_FMT = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' })
/** `YYYY-MM-DD` in Asia/Shanghai, `back` days before now. */
export function shanghaiDay(back = 0): string {
  return DAY_FMT.format(new Date(Date.now() - back * 86400000))
}

/** A region code (a scope prefix or a short code) as 12 digits. */
export function fullCode(code: string): string {
  return code.length >= 12 ? code.slice(0, 12) : code.padEnd(12, '0')
}

/** The caller's own region as 12 digits ('' for an account of everywhere). */
export function ownRegion(scope: string | undefined): string {
  const s = (scope ?? '').replace(/\D/g, '')
  return s ? fullCode(s.slice(0, 12)) : ''
}

/** Whether an account of this scope may see warnings and rankings (they compare the children of a county or above). */
export function comparesChildren(scope: string | undefined): boolean {
  const s = (scope ?? '').replace(/\D/g, '')
  return s.length > 0 && s.length <= 6
}

/** Is a rate shown as a percentage (every ratio but the average rating, which is 1-5)? */
export function isPercent(id: string, isRate: boolean): boolean {
  return isRate && id !== 'average_rating'
}

/** An indicator's value as shown: a percentage with two decimals for ratios, the average rating with two, a count. */
export function showValue(v: IndicatorValue | undefined | null, isRate: boolean): string {
  if (!v || v.value === null || v.value === undefined) return '—'
  if (isPercent(v.id, isRate)) return `${(v.percent ?? v.value * 100).toFixed(2)}%`
  if (isRate) return v.value.toFixed(2)
  return String(v.value)
}

/** A bare value of an indicator (rankings' `value`, a reason's value) as shown. */
export function showNumber(id: string, value: number | null | undefined, isRate: boolean): string {
  if (value === null || value === undefined) return '—'
  if (isPercent(id, isRate)) return `${(Math.round(value * 10000) / 100).toFixed(2)}%`
  if (isRate) return value.toFixed(2)
  return Number.isInteger(value) ? String(value) : value.toFixed(2)
}

/** The name of an indicator or counter in the UI's language. */
export function defName(d: { name_zh: string; name_en: string } | undefined, fallback: string): string {
  if (!d) return fallback
  return i18n.global.locale.value.startsWith('zh') ? d.name_zh : d.name_en
}

/**
 * A formula with the counters' ids replaced by their names (`due_closed / (due − due_suspended)` →
 * `应结案中已结案数 / (应结案数 − 缓办数)`), split at its top-level ` / ` into numerator and denominator.
 */
export function readableFormula(formula: string, counters: Definition[]): { text: string; numerator: string; denominator: string | null } {
  const byId = new Map(counters.map((c) => [c.id, c]))
  const text = formula.replace(/[a-z][a-z_]*/g, (id) => (byId.has(id) ? defName(byId.get(id), id) : id))
  let depth = 0
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]
    if (ch === '(') depth++
    else if (ch === ')') depth--
    else if (ch === '/' && depth === 0) {
      return { text, numerator: text.slice(0, i).trim(), denominator: text.slice(i + 1).trim().replace(/^\((.*)\)$/, '$1') }
    }
  }
  return { text, numerator: text, denominator: null }
}

/** The worst of some colours (null when none). */
export function worst(cs: (string | null | undefined)[]): Colour | null {
  return cs.includes('red') ? 'red' : cs.includes('yellow') ? 'yellow' : cs.includes('green') ? 'green' : null
}

/** Warning colours on light and dark backgrounds (the desk, the data screen). */
export const WARN_COLOURS: Record<Colour, string> = { green: '#2fbf71', yellow: '#f2c94c', red: '#eb5757' }
