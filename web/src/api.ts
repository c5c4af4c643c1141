// Typed wrapper around the Pingan API (written by hand from /api/openapi.json).
// The browser session is a same-origin HttpOnly cookie; no token is kept in script.

export interface Account {
  id: number
  username: string
  role: string
  role_name: string
  scope: string
  display_name: string
  disabled: boolean
  created_at: number
  unit_id?: number | null
  phone_masked?: string | null
}

export interface LoginResponse {
  token: string
  expires_at: number
  account: Account
}

export interface Photo {
  sha256: string
  kind?: string
  stage?: string
}

export interface Milestone {
  milestone: string
  due?: number | null
  at?: number | null
  reached_at?: number | null
  [key: string]: unknown
}

export interface Matter {
  id: number
  tracking_code: string
  state: string
  state_name: string
  version: number
  category_code?: string | null
  severity: string
  description: string
  grid_code: string
  lng?: number | null
  lat?: number | null
  source: string
  contact_masked?: string | null
  holder: string
  assigned_unit_id?: number | null
  deadline?: number | null
  time_limit?: string | null
  overdue: boolean
  supervised: boolean
  rework_count: number
  rating?: number | null
  closed_at?: number | null
  merged_into?: number | null
  created_at: number
  updated_at: number
  actions_allowed: string[]
  photos?: Photo[] | null
  milestones?: Milestone[] | null
}

export interface Page<T> {
  items: T[]
  next: string | null
}

export interface InboxBucket {
  name: string
  count: number
  items: Matter[]
}

export interface StateCounts {
  total: number
  by_state: Record<string, number>
}

export interface LogEntry {
  seq: number
  at: number
  actor_id?: number | null
  actor_role: string
  unit_id?: number | null
  action: string
  from_state?: string | null
  to_state?: string | null
  body: string
}

export interface Major {
  code: string
  name_zh: string
  name_en: string
}

export interface Category {
  code: string
  name_zh: string
  name_en: string
  level?: string
  unit_kind?: string
  is_dispute?: boolean
}

export interface Catalogue {
  version?: number | null
  catalogue: { majors: Major[]; categories: Category[] }
}

export interface Unit {
  id: number
  name: string
  kind: string
  region_code: string
}

export interface DispatchOptions {
  units: Unit[]
  deadline_preview?: number | null
  time_limit?: string | null
}

export interface ActionRequest {
  action: string
  version: number
  unit_id?: number
  note?: string
  rating?: number
  photos?: string[]
  extend_by?: string
  milestone?: string
  target?: string
  target_matter_id?: number
  category_code?: string
}

export interface UploadedPhoto {
  sha256: string
  [key: string]: unknown
}

export interface Tracking {
  [key: string]: unknown
}

/** An error answered by the API ({code, message, message_en}) or a network failure. */
export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    public messageZh: string,
    public messageEn: string,
  ) {
    super(messageEn || messageZh || code)
  }
  localized(locale: string): string {
    return locale.startsWith('zh') ? this.messageZh || this.messageEn : this.messageEn || this.messageZh
  }
}

/** Called when the API answers 401, so the app can go back to the login page. */
let onUnauthorized: (() => void) | null = null
export function setUnauthorizedHandler(fn: () => void) {
  onUnauthorized = fn
}

export type Query = Record<string, string | number | boolean | null | undefined>

function withQuery(path: string, q?: Query): string {
  if (!q) return path
  const p = new URLSearchParams()
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null || v === '') continue
    p.set(k, String(v))
  }
  const s = p.toString()
  return s ? `${path}?${s}` : path
}

export async function request<T>(method: string, path: string, body?: unknown, raw?: Blob, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' }
  let payload: BodyInit | undefined
  if (raw) {
    payload = raw
    headers['Content-Type'] = raw.type || 'application/octet-stream'
  } else if (body !== undefined) {
    payload = JSON.stringify(body)
    headers['Content-Type'] = 'application/json'
  }
  let res: Response
  try {
    res = await fetch(path, { method, headers, body: payload, credentials: 'same-origin', signal })
  } catch (e) {
    if (signal?.aborted) throw new ApiError(0, 'aborted', '已取消', 'Cancelled')
    throw new ApiError(0, 'network', '网络连接失败', 'Network error')
  }
  if (!res.ok) {
    let err: ApiError
    try {
      const b = await res.json()
      err = new ApiError(res.status, b.code ?? 'error', b.message ?? '', b.message_en ?? '')
    } catch {
      err = new ApiError(res.status, 'http_' + res.status, `请求失败（${res.status}）`, `Request failed (${res.status})`)
    }
    if (res.status === 401 && onUnauthorized && !path.endsWith('/auth/login')) onUnauthorized()
    throw err
  }
  if (res.status === 204) return undefined as T
  const text = await res.text()
  return (text ? JSON.parse(text) : undefined) as T
}

export const api = {
  login: (username: string, password: string) =>
    request<LoginResponse>('POST', '/api/v1/auth/login', { username, password }),
  logout: () => request<void>('POST', '/api/v1/auth/logout'),
  me: () => request<Account>('GET', '/api/v1/me'),
  inbox: () => request<InboxBucket[] | { buckets: InboxBucket[] }>('GET', '/api/v1/inbox').then((r) =>
    Array.isArray(r) ? r : r.buckets,
  ),
  matters: (q: Query, signal?: AbortSignal) =>
    request<Page<Matter>>('GET', withQuery('/api/v1/matters', q), undefined, undefined, signal),
  counts: (q?: Query, signal?: AbortSignal) =>
    request<StateCounts>('GET', withQuery('/api/v1/matters/counts', q), undefined, undefined, signal),
  matter: (id: number) => request<Matter>('GET', `/api/v1/matters/${id}`),
  log: (id: number) => request<LogEntry[]>('GET', `/api/v1/matters/${id}/log`),
  act: (id: number, req: ActionRequest) => request<Matter>('POST', `/api/v1/matters/${id}/actions`, req),
  dispatchOptions: (id: number) => request<DispatchOptions>('GET', `/api/v1/matters/${id}/dispatch-options`),
  units: () => request<Page<Unit>>('GET', '/api/v1/units?limit=1000'),
  categories: () => request<Catalogue>('GET', '/api/v1/categories'),
  track: (code: string) => request<Tracking>('GET', `/api/v1/track/${encodeURIComponent(code)}`),
  uploadPhoto: (file: Blob) => request<UploadedPhoto>('POST', '/api/v1/photos', undefined, file),
  photoUrl: (id: number, sha: string) => `/api/v1/matters/${id}/photos/${sha}`,
}
