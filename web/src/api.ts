// Typed wrapper around the Pingan API. The types come from the server's OpenAPI document: `web/openapi.json`
// (kept identical to `/api/openapi.json` by a Rust test) is turned into `src/api-schema.d.ts` by
// `npm run gen:api`; `npm run build` fails when that file is stale. Where the document is looser than what
// the server sends (`Object` values), a narrow local type refines it, checked to be assignable to the
// schema's type by `Narrows`, and marked `TODO(openapi)` until the server describes it.
// The browser session is a same-origin HttpOnly cookie; no token is kept in script.
import type { components, paths } from './api-schema'

/** The schemas of the OpenAPI document by name, e.g. `Schemas['MatterView']`. */
export type Schemas = components['schemas']

// ---- Types of operations, by path template and method ------------------------------------------------

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete'
type Responses<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]> extends { responses: infer R } ? R : never
type JsonContent<R> = R extends { content: { 'application/json': infer B } } ? B : never

/** The JSON a successful `M P` answers (`void` for 204 No Content). */
export type ResponseOf<P extends keyof paths, M extends Method> = {
  [C in keyof Responses<P, M>]: C extends 200 | 201 | 202 ? JsonContent<Responses<P, M>[C]> : C extends 204 ? void : never
}[keyof Responses<P, M>]

/** The JSON request body of `M P`. */
export type RequestOf<P extends keyof paths, M extends Method> =
  NonNullable<paths[P][M]> extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never

/** `T`, checked to be a narrowing of `S`: every `T` is an `S` (a refinement of a loose schema type). */
export type Narrows<T extends S, S> = T

// ---- Schema types ----------------------------------------------------------------------------------------

export type Account = Schemas['AccountView']
export type LoginResponse = Schemas['LoginResponse']
export type InboxBucketSchema = Schemas['InboxBucket']
export type StateCounts = Schemas['StateCounts']
export type LogEntry = Schemas['LogEntryView']
export type Unit = Schemas['UnitView']
export type DispatchOptions = Schemas['DispatchOptions']
export type ActionRequest = Schemas['ActionRequest']
export type Tracking = Schemas['TrackingView']

/** A photo of a matter. TODO(openapi): `MatterView.photos` items are `Object`; the server sends `PhotoRef`. */
export type Photo = {
  sha256: string
  /** jpeg, png or webp. */
  kind: string
  /** report or result. */
  stage: string
}

/**
 * A milestone of an emergency (响应, 到场…). TODO(openapi): `MatterView.milestones` items are `Object`;
 * the server sends `MilestoneState`.
 */
export type Milestone = {
  milestone: string
  /** Milliseconds since the Unix epoch (UTC). */
  due: number
  done_at: number | null
  /** The scheduler called it late. */
  late: boolean
}

/** A matter as the API shows it, with its photos and milestones typed. */
export type Matter = Narrows<
  Omit<Schemas['MatterView'], 'photos' | 'milestones'> & { photos?: Photo[] | null; milestones: Milestone[] },
  Schemas['MatterView']
>

/**
 * One page of a list. The schema has `next` optional; the server always sends it (null on the last page),
 * as for every `Option` field utoipa describes.
 */
export type Page<T> = { items: T[]; next: string | null }

export type InboxBucket = Narrows<Omit<InboxBucketSchema, 'items'> & { items: Matter[] }, InboxBucketSchema>

/** TODO(openapi): `CatalogueView.catalogue` is `Object`; the server sends the domain's `Catalogue`. */
export type Major = { code: string; name_zh: string; name_en: string }

/** The time limits of one severity of a category (see `Major`'s TODO). */
export type SeverityLimit = {
  severity: string
  /** e.g. `4wh` working hours, `7wd` working days, `15m` minutes. */
  limit: string
  milestones?: { milestone: string; within: string }[]
}

/** A category (小类) of the catalogue (see `Major`'s TODO). */
export type Category = {
  code: string
  name_zh: string
  name_en: string
  limits: SeverityLimit[]
  level: string
  unit_kind: string
  is_dispute: boolean
}

export type Catalogue = Narrows<
  Omit<Schemas['CatalogueView'], 'catalogue'> & { catalogue: { majors: Major[]; categories: Category[] } },
  Schemas['CatalogueView']
>

/** TODO(openapi): `POST /api/v1/photos` answers `Object`; the server sends `StoredPhoto`. */
export type UploadedPhoto = Narrows<
  { sha256: string; kind: string; width: number; height: number; bytes: number },
  ResponseOf<'/api/v1/photos', 'post'>
>

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

/** Progress of an upload: bytes of the body sent so far and in all. */
export type UploadProgress = { loaded: number; total: number }

export type UploadOptions = {
  onProgress?: (p: UploadProgress) => void
  signal?: AbortSignal
  /** Do not call the unauthorized handler on 401 (the phone's sender keeps the item and asks to sign in). */
  quiet401?: boolean
}

/**
 * POSTs `body` with XMLHttpRequest, which (unlike fetch) reports upload progress. Same origin and cookie as
 * `request`, same errors: the server's {code, message, message_en} as an `ApiError`, 0/`network` when the
 * connection fails, 0/`aborted` when `signal` aborts it; 401 calls the unauthorized handler.
 */
export function requestWithProgress<T>(method: string, path: string, body: Blob, opts: UploadOptions = {}): Promise<T> {
  const { onProgress, signal } = opts
  return new Promise<T>((resolve, reject) => {
    if (signal?.aborted) return reject(new ApiError(0, 'aborted', '已取消', 'Cancelled'))
    const xhr = new XMLHttpRequest()
    xhr.open(method, path)
    // Same origin: the session cookie goes along as with fetch's `credentials: 'same-origin'`.
    xhr.setRequestHeader('Accept', 'application/json')
    xhr.setRequestHeader('Content-Type', body.type || 'application/octet-stream')
    const total = body.size
    if (onProgress) {
      xhr.upload.onprogress = (e) => onProgress({ loaded: e.loaded, total: e.lengthComputable ? e.total : total })
    }
    const onAbort = () => xhr.abort()
    signal?.addEventListener('abort', onAbort, { once: true })
    const done = () => signal?.removeEventListener('abort', onAbort)
    xhr.onerror = () => {
      done()
      reject(new ApiError(0, 'network', '网络连接失败', 'Network error'))
    }
    xhr.onabort = () => {
      done()
      reject(new ApiError(0, 'aborted', '已取消', 'Cancelled'))
    }
    xhr.onload = () => {
      done()
      const status = xhr.status
      const text = xhr.responseText
      if (status < 200 || status >= 300) {
        let err: ApiError
        try {
          const b = JSON.parse(text)
          err = new ApiError(status, b.code ?? 'error', b.message ?? '', b.message_en ?? '')
        } catch {
          err = new ApiError(status, 'http_' + status, `请求失败（${status}）`, `Request failed (${status})`)
        }
        if (status === 401 && onUnauthorized && !opts.quiet401) onUnauthorized()
        reject(err)
        return
      }
      onProgress?.({ loaded: total, total })
      try {
        resolve((text ? JSON.parse(text) : undefined) as T)
      } catch {
        reject(new ApiError(status, 'bad_json', '服务器应答无法解析', 'The server sent an unreadable answer'))
      }
    }
    xhr.send(body)
  })
}

/** The answer of `M P` as the schema has it, or `T`, a narrowing of it (checked). */
type Answer<P extends keyof paths, M extends Method, T extends ResponseOf<P, M> = ResponseOf<P, M>> = T

// The path templates name each call's operation in `paths`, so a call's answer and body follow the document.
export const api = {
  login: (username: string, password: string) =>
    request<Answer<'/api/v1/auth/login', 'post'>>('POST', '/api/v1/auth/login', {
      username,
      password,
    } satisfies RequestOf<'/api/v1/auth/login', 'post'>),
  logout: () => request<Answer<'/api/v1/auth/logout', 'post'>>('POST', '/api/v1/auth/logout'),
  me: () => request<Answer<'/api/v1/me', 'get'>>('GET', '/api/v1/me'),
  // The document says an array; an object with `buckets` is still accepted as before.
  inbox: () =>
    request<Answer<'/api/v1/inbox', 'get', InboxBucket[]> | { buckets: InboxBucket[] }>('GET', '/api/v1/inbox').then((r) =>
      Array.isArray(r) ? r : r.buckets,
    ),
  // TODO(openapi): the list filters are declared `in: path` (and required), so `Query` stays loose.
  matters: (q: Query, signal?: AbortSignal) =>
    request<Answer<'/api/v1/matters', 'get', Page<Matter>>>('GET', withQuery('/api/v1/matters', q), undefined, undefined, signal),
  counts: (q?: Query, signal?: AbortSignal) =>
    request<Answer<'/api/v1/matters/counts', 'get'>>('GET', withQuery('/api/v1/matters/counts', q), undefined, undefined, signal),
  matter: (id: number) => request<Answer<'/api/v1/matters/{id}', 'get', Matter>>('GET', `/api/v1/matters/${id}`),
  log: (id: number) => request<Answer<'/api/v1/matters/{id}/log', 'get'>>('GET', `/api/v1/matters/${id}/log`),
  act: (id: number, req: ActionRequest) =>
    request<Answer<'/api/v1/matters/{id}/actions', 'post', Matter>>('POST', `/api/v1/matters/${id}/actions`, req),
  dispatchOptions: (id: number) =>
    request<Answer<'/api/v1/matters/{id}/dispatch-options', 'get'>>('GET', `/api/v1/matters/${id}/dispatch-options`),
  units: () => request<Answer<'/api/v1/units', 'get', Page<Unit>>>('GET', '/api/v1/units?limit=1000'),
  categories: () => request<Answer<'/api/v1/categories', 'get', Catalogue>>('GET', '/api/v1/categories'),
  track: (code: string) => request<Answer<'/api/v1/track/{code}', 'get'>>('GET', `/api/v1/track/${encodeURIComponent(code)}`),
  uploadPhoto: (file: Blob) => request<Answer<'/api/v1/photos', 'post', UploadedPhoto>>('POST', '/api/v1/photos', undefined, file),
  /** `uploadPhoto` with progress (XMLHttpRequest). */
  uploadPhotoWithProgress: (file: Blob, opts?: UploadOptions) =>
    requestWithProgress<Answer<'/api/v1/photos', 'post', UploadedPhoto>>('POST', '/api/v1/photos', file, opts),
  photoUrl: (id: number, sha: string) => `/api/v1/matters/${id}/photos/${sha}`,
}
