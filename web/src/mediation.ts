// Mediation cases (人民调解, /api/v1/mediation/…): kept apart from api.ts. The types come from the
// OpenAPI document; its list and stats filters are query parameters (the document names them `path`).
import { request, type Page, type Schemas } from './api'

export type CaseView = Schemas['CaseView']
export type CaseStats = Schemas['CaseStats']
export type Committee = Schemas['CommitteeView']
export type OpenCaseRequest = Schemas['OpenCaseRequest']
export type CaseActionRequest = Schemas['CaseActionRequest']
export type SessionView = Schemas['SessionView']

export interface CaseQuery {
  state?: string
  under?: string
  mine?: boolean
  after?: string | null
  limit?: number
}

function qs(o: Record<string, string | number | boolean | null | undefined>): string {
  const p = new URLSearchParams()
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v))
  const s = p.toString()
  return s ? '?' + s : ''
}

export const CASE_STATES = ['accepted', 'mediating', 'agreed', 'confirming', 'confirmed', 'failed', 'withdrawn', 'closed']
export const CASE_TYPES = ['neighbourhood', 'family_marriage', 'land', 'wage_labour', 'property_management', 'traffic', 'medical',
  'consumer', 'construction', 'other']
/** The case type a dispute category suggests. */
export const TYPE_OF_CATEGORY: Record<string, string> = {
  '0701': 'neighbourhood', '0702': 'family_marriage', '0703': 'wage_labour', '0704': 'land', '0705': 'property_management', '0706': 'consumer',
}

export const mediationApi = {
  cases: (q: CaseQuery, signal?: AbortSignal) =>
    request<Page<CaseView>>('GET', '/api/v1/mediation/cases' + qs({ ...q }), undefined, undefined, signal),
  get: (id: number) => request<CaseView>('GET', `/api/v1/mediation/cases/${id}`),
  open: (req: OpenCaseRequest) => request<CaseView>('POST', '/api/v1/mediation/cases', req),
  act: (id: number, req: CaseActionRequest) => request<CaseView>('POST', `/api/v1/mediation/cases/${id}/actions`, req),
  committees: (under?: string) => request<Committee[]>('GET', '/api/v1/mediation/committees' + qs({ under })),
  stats: (under?: string) => request<CaseStats>('GET', '/api/v1/mediation/stats' + qs({ under })),
  agreementUrl: (id: number) => `/api/v1/mediation/cases/${id}/agreement.pdf`,
}
