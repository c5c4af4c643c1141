// Offline-first queue for the grid worker's phone app, and the patrol log.
//
// Every report, every action and every finished patrol is written to IndexedDB first, with a client-made idempotency key, and a
// sender drains the queue when the phone is online (on start, on the `online` event, every 15 s and after
// each new item). An item is removed only after the server answered 2xx (200 for an already-filed key
// counts too). 401 keeps it pending (sign in again); 409 on an action means the matter has moved on (or
// this very action was applied already), so the item is dropped with a note; any other 4xx keeps the item
// with its error so the worker can see and discard it; network errors and 5xx are retried.
//
// Hand-written: a tiny promise wrapper around indexedDB, no dependency.
import { reactive } from 'vue'
import { i18n } from './i18n'
import { ApiError, requestWithProgress } from './api'

export type QueueKind = 'report' | 'action' | 'patrol'

export interface QueuedPhoto {
  type: string
  data: ArrayBuffer
  sha256?: string
}

export interface QueueItem {
  /** The idempotency key (crypto.randomUUID()), also the primary key. */
  id: string
  kind: QueueKind
  created_at: number
  /** Label shown in the queue list (the description or the action name; empty for a patrol, shown by its times). */
  label: string
  /**
   * Report: the body of POST /api/v1/matters without photos/idempotency_key. Action: the ActionRequest.
   * Patrol: the body of POST /api/v1/patrols ({started_at, ended_at, notes}) without idempotency_key.
   */
  body: Record<string, unknown>
  matter_id?: number
  photos: QueuedPhoto[]
  attempts: number
  /** Set when the server refused it (4xx): the item waits for the worker to discard it. */
  error?: string
  status?: number
}

export interface SentRecord {
  id: string
  kind: QueueKind
  label: string
  at: number
  tracking_code?: string
  matter_id?: number
  /** Patrol: its id on the server. */
  patrol_id?: number
  note?: string
}

export interface PatrolNote {
  at: number
  text: string
}

export interface Patrol {
  /** A UUID made on the phone; also the idempotency key of its upload. */
  id: string
  started_at: number
  ended_at?: number | null
  notes: PatrolNote[]
  /** When the server accepted it (the local copy stays as the worker's history). */
  synced_at?: number | null
  /** Its id on the server, once accepted. */
  server_id?: number | null
}

const DB_NAME = 'pingan-m'
const DB_VERSION = 1
export const STORES = { queue: 'queue', sent: 'sent', patrol: 'patrol' } as const
type StoreName = (typeof STORES)[keyof typeof STORES]

let dbp: Promise<IDBDatabase> | null = null

function openDb(): Promise<IDBDatabase> {
  if (!dbp) {
    dbp = new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, DB_VERSION)
      req.onupgradeneeded = () => {
        const db = req.result
        if (!db.objectStoreNames.contains(STORES.queue)) db.createObjectStore(STORES.queue, { keyPath: 'id' })
        if (!db.objectStoreNames.contains(STORES.sent)) db.createObjectStore(STORES.sent, { keyPath: 'id' })
        if (!db.objectStoreNames.contains(STORES.patrol)) db.createObjectStore(STORES.patrol, { keyPath: 'id' })
      }
      req.onsuccess = () => resolve(req.result)
      req.onerror = () => reject(req.error)
      req.onblocked = () => reject(new Error('IndexedDB blocked'))
    })
    dbp.catch(() => (dbp = null))
  }
  return dbp
}

function wrap<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
  })
}

async function tx<T>(store: StoreName, mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await openDb()
  return new Promise<T>((resolve, reject) => {
    const t = db.transaction(store, mode)
    let result: T
    wrap(fn(t.objectStore(store))).then((r) => (result = r), reject)
    t.oncomplete = () => resolve(result)
    t.onerror = () => reject(t.error)
    t.onabort = () => reject(t.error ?? new Error('transaction aborted'))
  })
}

export const idb = {
  all: <T>(store: StoreName) => tx<T[]>(store, 'readonly', (s) => s.getAll() as IDBRequest<T[]>),
  get: <T>(store: StoreName, key: string) => tx<T | undefined>(store, 'readonly', (s) => s.get(key) as IDBRequest<T | undefined>),
  put: <T>(store: StoreName, value: T) => tx(store, 'readwrite', (s) => s.put(value)),
  del: (store: StoreName, key: string) => tx(store, 'readwrite', (s) => s.delete(key)),
}

// ---- Sync state (always shown in the mobile header) ------------------------------------------------

export const sync = reactive({
  online: typeof navigator === 'undefined' ? true : navigator.onLine,
  pending: 0,
  failed: 0,
  sending: false,
  needLogin: false,
  lastError: '',
  items: [] as QueueItem[],
  sent: [] as SentRecord[],
  /**
   * The item being sent now, with the bytes of its photos sent so far and in all (photos uploaded on an
   * earlier try count as sent; `total` is 0 for an item without photos). Null between items.
   */
  current: null as { id: string; loaded: number; total: number } | null,
  /** Bumped after every drain that sent something, so views can reload. */
  tick: 0,
})

export async function refresh(): Promise<void> {
  const items = (await idb.all<QueueItem>(STORES.queue)).sort((a, b) => a.created_at - b.created_at)
  sync.items = items
  sync.failed = items.filter((i) => i.error).length
  sync.pending = items.length - sync.failed
  const sent = (await idb.all<SentRecord>(STORES.sent)).sort((a, b) => b.at - a.at)
  // Keep the 30 newest receipts.
  for (const old of sent.slice(30)) await idb.del(STORES.sent, old.id)
  sync.sent = sent.slice(0, 30)
}

function uuid(): string {
  const c = globalThis.crypto as Crypto & { randomUUID?: () => string }
  if (typeof c.randomUUID === 'function') return c.randomUUID()
  // randomUUID needs a secure context; plain http on a LAN address falls back to random bytes.
  const b = c.getRandomValues(new Uint8Array(16))
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('').replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-')
}

/** Phone photos are large: anything over 1.5 MB is scaled to at most 1920 px and sent as JPEG. */
export async function shrink(f: Blob): Promise<Blob> {
  if (f.size <= 1.5 * 1024 * 1024 || typeof createImageBitmap !== 'function') return f
  try {
    const bmp = await createImageBitmap(f)
    const scale = Math.min(1, 1920 / Math.max(bmp.width, bmp.height))
    const canvas = document.createElement('canvas')
    canvas.width = Math.round(bmp.width * scale)
    canvas.height = Math.round(bmp.height * scale)
    canvas.getContext('2d')!.drawImage(bmp, 0, 0, canvas.width, canvas.height)
    bmp.close()
    const out = await new Promise<Blob | null>((r) => canvas.toBlob(r, 'image/jpeg', 0.85))
    return out && out.size < f.size ? out : f
  } catch {
    return f
  }
}

async function toQueued(files: Blob[]): Promise<QueuedPhoto[]> {
  return Promise.all(
    files.map(async (file) => {
      const f = await shrink(file)
      return { type: f.type || 'image/jpeg', data: await f.arrayBuffer() }
    }),
  )
}

/** Queues a report; `body` is {description, category_code, grid_code | lng/lat}. */
export async function queueReport(body: Record<string, unknown>, files: Blob[]): Promise<string> {
  const item: QueueItem = {
    id: uuid(),
    kind: 'report',
    created_at: Date.now(),
    label: String(body.description ?? ''),
    body: JSON.parse(JSON.stringify(body)),
    photos: await toQueued(files),
    attempts: 0,
  }
  await idb.put(STORES.queue, item)
  await refresh()
  void drain()
  return item.id
}

/** Queues an action on a matter (the ActionRequest with the version the worker saw). */
export async function queueAction(matterId: number, label: string, body: Record<string, unknown>, files: Blob[] = []): Promise<string> {
  const item: QueueItem = {
    id: uuid(),
    kind: 'action',
    created_at: Date.now(),
    label,
    body: JSON.parse(JSON.stringify(body)),
    matter_id: matterId,
    photos: await toQueued(files),
    attempts: 0,
  }
  await idb.put(STORES.queue, item)
  await refresh()
  void drain()
  return item.id
}

/** Queues a finished patrol for upload; its id is the idempotency key (sending it twice stores it once). */
export async function queuePatrol(p: Patrol): Promise<void> {
  if (!p.ended_at) throw new Error('the patrol has not ended')
  const item: QueueItem = {
    id: p.id,
    kind: 'patrol',
    created_at: Date.now(),
    label: '',
    body: { started_at: p.started_at, ended_at: p.ended_at, notes: p.notes.map((n) => ({ at: n.at, text: n.text })) },
    photos: [],
    attempts: 0,
  }
  await idb.put(STORES.queue, item)
  await refresh()
  void drain()
}

/** Puts an item (back) into the queue as it is: used by tests to resend one already sent. */
export async function putItem(item: QueueItem): Promise<void> {
  await idb.put(STORES.queue, item)
  await refresh()
}

export async function discard(id: string): Promise<void> {
  await idb.del(STORES.queue, id)
  await refresh()
}

/** Clears the error of a refused item so it is tried again. */
export async function retry(id: string): Promise<void> {
  const it = await idb.get<QueueItem>(STORES.queue, id)
  if (!it) return
  delete it.error
  delete it.status
  await idb.put(STORES.queue, it)
  await refresh()
  void drain()
}

export async function sentRecord(id: string): Promise<SentRecord | undefined> {
  return idb.get<SentRecord>(STORES.sent, id)
}

// ---- Sender -------------------------------------------------------------------------------------------

class SendError extends Error {
  constructor(public status: number, message: string) {
    super(message)
  }
}

/** Whether the UI speaks Chinese now (the language a failure is told in). */
const zh = () => i18n.global.locale.value.startsWith('zh')

async function post(path: string, body: BodyInit, type: string): Promise<{ status: number; json: any }> {
  let res: Response
  try {
    res = await fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': type, Accept: 'application/json' },
      body,
      credentials: 'same-origin',
    })
  } catch {
    throw new SendError(0, zh() ? '网络连接失败' : 'Network error')
  }
  let json: any = null
  try {
    const text = await res.text()
    json = text ? JSON.parse(text) : null
  } catch {
    json = null
  }
  if (!res.ok) {
    const msg = zh()
      ? json?.message || json?.message_en || `请求失败（${res.status}）`
      : json?.message_en || json?.message || `Request failed (${res.status})`
    throw new SendError(res.status, msg)
  }
  return { status: res.status, json }
}

/** Uploads one photo with XMLHttpRequest (for its progress); failures as `SendError`s like `post`'s. */
async function postPhoto(blob: Blob, onProgress: (loaded: number) => void): Promise<{ sha256?: string }> {
  try {
    return await requestWithProgress<{ sha256?: string }>('POST', '/api/v1/photos', blob, {
      onProgress: (p) => onProgress(p.loaded),
      // 401 keeps the item and asks to sign in again (the header), without leaving the page.
      quiet401: true,
    })
  } catch (e) {
    if (e instanceof ApiError) {
      if (e.status === 0) throw new SendError(0, zh() ? '网络连接失败' : 'Network error')
      throw new SendError(e.status, e.localized(i18n.global.locale.value))
    }
    throw new SendError(0, String(e))
  }
}

async function sendOne(item: QueueItem): Promise<SentRecord> {
  // Photos first; remember each sha256 so a resend does not upload it again.
  const size = (p: QueuedPhoto) => p.data.byteLength
  const total = item.photos.reduce((n, p) => n + size(p), 0)
  let done = item.photos.filter((p) => p.sha256).reduce((n, p) => n + size(p), 0)
  sync.current = { id: item.id, loaded: done, total }
  for (const p of item.photos) {
    if (p.sha256) continue
    const blob = new Blob([p.data], { type: p.type })
    const r = await postPhoto(blob, (loaded) => {
      if (sync.current?.id === item.id) sync.current.loaded = done + Math.min(loaded, blob.size)
    })
    done += size(p)
    if (sync.current?.id === item.id) sync.current.loaded = done
    p.sha256 = String(r?.sha256 ?? '')
    await idb.put(STORES.queue, item)
  }
  const shas = item.photos.map((p) => p.sha256!).filter(Boolean)
  if (item.kind === 'patrol') {
    const body = { ...item.body, idempotency_key: item.id }
    const r = await post('/api/v1/patrols', JSON.stringify(body), 'application/json')
    // Mark the local copy sent (it stays as the worker's own history).
    const local = await idb.get<Patrol>(STORES.patrol, item.id)
    if (local) await idb.put(STORES.patrol, { ...local, synced_at: Date.now(), server_id: r.json?.id ?? null })
    return { id: item.id, kind: 'patrol', label: item.label, at: Date.now(), patrol_id: r.json?.id }
  }
  if (item.kind === 'report') {
    const body = { ...item.body, photos: shas, idempotency_key: item.id }
    const r = await post('/api/v1/matters', JSON.stringify(body), 'application/json')
    return { id: item.id, kind: 'report', label: item.label, at: Date.now(), tracking_code: r.json?.tracking_code, matter_id: r.json?.id }
  }
  // The key makes a resend after a lost answer harmless: the server applies the action once.
  const body = { ...item.body, ...(shas.length ? { photos: shas } : {}), idempotency_key: item.id }
  await post(`/api/v1/matters/${item.matter_id}/actions`, JSON.stringify(body), 'application/json')
  return { id: item.id, kind: 'action', label: item.label, at: Date.now(), matter_id: item.matter_id }
}

let running: Promise<void> | null = null

/** Sends what is queued; concurrent calls share one run. */
export function drain(): Promise<void> {
  if (!running) {
    running = drainOnce().finally(() => (running = null))
  }
  return running
}

async function drainOnce(): Promise<void> {
  sync.online = navigator.onLine
  if (!sync.online) {
    await refresh()
    return
  }
  sync.sending = true
  let sentAny = false
  try {
    const items = (await idb.all<QueueItem>(STORES.queue)).sort((a, b) => a.created_at - b.created_at)
    for (const item of items) {
      if (item.error) continue
      item.attempts++
      try {
        const rec = await sendOne(item)
        await idb.put(STORES.sent, rec)
        await idb.del(STORES.queue, item.id)
        sentAny = true
        sync.needLogin = false
        sync.lastError = ''
      } catch (e) {
        const se = e instanceof SendError ? e : new SendError(0, String(e))
        sync.current = null
        if (se.status === 401) {
          sync.needLogin = true
          await idb.put(STORES.queue, item)
          break
        } else if (se.status === 409 && item.kind === 'action') {
          // The matter moved on (someone else acted, or this action was applied before): nothing to resend.
          await idb.put(STORES.sent, {
            id: item.id, kind: item.kind, label: item.label, at: Date.now(), matter_id: item.matter_id, note: se.message,
          } satisfies SentRecord)
          await idb.del(STORES.queue, item.id)
          sentAny = true
        } else if (se.status >= 400 && se.status < 500 && se.status !== 409) {
          item.error = se.message
          item.status = se.status
          await idb.put(STORES.queue, item)
        } else {
          // Network error, 5xx or a 409 on a report (in flight): keep it and try again later.
          sync.lastError = se.message
          await idb.put(STORES.queue, item)
          break
        }
      }
    }
  } finally {
    sync.sending = false
    sync.current = null
    await refresh()
    if (sentAny) sync.tick++
  }
}

let started = false

/** Starts the sender: now, on `online`, and every 15 s. */
export function startSync(): void {
  if (started) return
  started = true
  window.addEventListener('online', () => {
    sync.online = true
    void drain()
  })
  window.addEventListener('offline', () => {
    sync.online = false
  })
  setInterval(() => void drain(), 15000)
  void refresh().then(() => drain())
  // For tests and debugging: the queue from the console.
  ;(window as unknown as Record<string, unknown>).pinganOffline = { drain, putItem, queueReport, queuePatrol, refresh, sync, idb, STORES }
}

// ---- Patrol log (start/end times and notes, no GPS trail; uploaded through the queue once ended) ----

export async function patrols(): Promise<Patrol[]> {
  return (await idb.all<Patrol>(STORES.patrol)).sort((a, b) => b.started_at - a.started_at)
}

export async function startPatrol(): Promise<Patrol> {
  const p: Patrol = { id: uuid(), started_at: Date.now(), ended_at: null, notes: [] }
  await idb.put(STORES.patrol, p)
  return p
}

export async function savePatrol(p: Patrol): Promise<void> {
  await idb.put(STORES.patrol, JSON.parse(JSON.stringify(p)) as Patrol)
}

/** Ends the patrol now (the note being written, if any, is its last) and queues its upload. */
export async function endPatrol(p: Patrol, lastNote?: string): Promise<Patrol> {
  const now = Date.now()
  const text = lastNote?.trim()
  const ended: Patrol = JSON.parse(JSON.stringify(p))
  if (text) ended.notes.push({ at: now, text })
  // Times are the phone's clock, sent as they are: notes are stamped as they are added, so none comes after the end.
  ended.ended_at = now
  await savePatrol(ended)
  await queuePatrol(ended)
  return ended
}
