// The citizen portal's calls: no account, a phone check, then the tracking code.
import { request, type Narrows, type ResponseOf, type RequestOf, type Schemas } from './api'

/** `demo_code` only comes from a demo server, which has no SMS gateway. */
export type CodeSent = Schemas['CodeSent']

export type PortalTracking = Schemas['TrackingView']

/** A report from the portal: the page always sends a location and an idempotency key. */
export type PortalReport = Narrows<
  Schemas['PortalReport'] & { lng: number; lat: number; idempotency_key: string },
  RequestOf<'/api/v1/public/matters', 'post'>
>

// TODO(openapi): `POST /api/v1/track/{code}/actions` shares the operationId `act` with the matter actions, so
// `paths` gives it the matter action's types; use the schemas by name here.
export type PortalAction = Schemas['PortalAction'] & { action: 'rate' | 'reopen' }

const tracked = (code: string) => `/api/v1/track/${encodeURIComponent(code.trim().toUpperCase())}`

export const portal = {
  sendCode: (phone: string) =>
    request<ResponseOf<'/api/v1/public/codes', 'post'>>('POST', '/api/v1/public/codes', {
      phone,
    } satisfies RequestOf<'/api/v1/public/codes', 'post'>),
  report: (r: PortalReport) => request<ResponseOf<'/api/v1/public/matters', 'post'>>('POST', '/api/v1/public/matters', r),
  track: (code: string) => request<ResponseOf<'/api/v1/track/{code}', 'get'>>('GET', tracked(code)),
  act: (code: string, a: PortalAction) => request<PortalTracking>('POST', `${tracked(code)}/actions`, a),
}
