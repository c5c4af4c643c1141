// The citizen portal's calls: no account, a phone check, then the tracking code.
import { request, type Tracking } from './api'

export interface CodeSent {
  expires_in: number
  /** Only from a demo server, which has no SMS gateway. */
  demo_code?: string
}

export interface PortalTracking extends Tracking {
  tracking_code: string
  state: string
  state_name: string
  category_code?: string | null
  created_at: number
  updated_at: number
  deadline?: number | null
  steps: { at: number; action: string; state?: string | null }[]
}

export const portal = {
  sendCode: (phone: string) => request<CodeSent>('POST', '/api/v1/public/codes', { phone }),
  report: (r: { phone: string; code: string; description: string; lng: number; lat: number; idempotency_key: string }) =>
    request<PortalTracking>('POST', '/api/v1/public/matters', r),
  track: (code: string) => request<PortalTracking>('GET', `/api/v1/track/${encodeURIComponent(code.trim().toUpperCase())}`),
  act: (code: string, a: { action: 'rate' | 'reopen'; phone: string; rating?: number; note?: string }) =>
    request<PortalTracking>('POST', `/api/v1/track/${encodeURIComponent(code.trim().toUpperCase())}/actions`, a),
}
