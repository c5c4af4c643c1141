// Rental housing (出租房屋旅馆式管理): the calls of docs/rentals.md, typed from the OpenAPI document
// (`src/api-schema.d.ts`). The list filters are declared `in: path` there (see api.ts), so the queries stay loose.
import { request, requestWithProgress, type Page, type Query, type RequestOf, type ResponseOf, type Schemas, type UploadOptions, type UploadedPhoto } from './api'

export type Property = Schemas['PropertyView']
export type RentalUnit = Schemas['RentalUnitView']
export type Inspection = Schemas['InspectionView']
export type InspectionOutcome = Schemas['InspectionOutcome']
export type Tenancy = Schemas['TenancyView']
export type Listing = Schemas['ListingView']
export type OverviewRow = Schemas['OverviewRow']
export type NewProperty = RequestOf<'/api/v1/rentals/properties', 'post'>
export type NewUnit = RequestOf<'/api/v1/rentals/properties/{id}/units', 'post'>
export type InspectionRequest = RequestOf<'/api/v1/rentals/units/{id}/inspections', 'post'>
export type CheckInRequest = RequestOf<'/api/v1/rentals/units/{id}/tenancies', 'post'>
export type TenantRequest = Schemas['TenantRequest']
export type UnitAction = 'submit' | 'publish' | 'withdraw' | 'relist'

/** The seven items of a safety check, in the order of the form. */
export const CHECK_ITEMS = ['extinguisher', 'escape_route', 'no_indoor_ebike_charging', 'wiring', 'gas', 'smoke_alarm', 'occupancy_per_area'] as const
export const UNIT_STATES = ['draft', 'awaiting_inspection', 'passed', 'rectification_required', 'vacant', 'let', 'withdrawn'] as const
export const DOC_TYPES = ['resident_id', 'passport', 'hk_macao_permit', 'taiwan_permit', 'foreign_permanent_resident_id'] as const

function withQuery(path: string, q?: Query): string {
  const p = new URLSearchParams()
  for (const [k, v] of Object.entries(q ?? {})) if (v !== undefined && v !== null && v !== '') p.set(k, String(v))
  const s = p.toString()
  return s ? `${path}?${s}` : path
}

export const rentalApi = {
  properties: (q?: Query) =>
    request<ResponseOf<'/api/v1/rentals/properties', 'get'> & Page<Property>>('GET', withQuery('/api/v1/rentals/properties', { limit: 200, ...q })),
  addProperty: (body: NewProperty) => request<ResponseOf<'/api/v1/rentals/properties', 'post'>>('POST', '/api/v1/rentals/properties', body),
  addUnit: (propertyId: number, body: NewUnit) =>
    request<ResponseOf<'/api/v1/rentals/properties/{id}/units', 'post'>>('POST', `/api/v1/rentals/properties/${propertyId}/units`, body),
  units: (q: Query, signal?: AbortSignal) =>
    request<ResponseOf<'/api/v1/rentals/units', 'get'> & Page<RentalUnit>>('GET', withQuery('/api/v1/rentals/units', q), undefined, undefined, signal),
  unit: (id: number) => request<ResponseOf<'/api/v1/rentals/units/{id}', 'get'>>('GET', `/api/v1/rentals/units/${id}`),
  act: (id: number, action: UnitAction, version: number, note?: string) =>
    request<ResponseOf<'/api/v1/rentals/units/{id}/actions', 'post'>>('POST', `/api/v1/rentals/units/${id}/actions`, {
      action,
      version,
      note,
    } satisfies RequestOf<'/api/v1/rentals/units/{id}/actions', 'post'>),
  inspections: (id: number) => request<ResponseOf<'/api/v1/rentals/units/{id}/inspections', 'get'>>('GET', `/api/v1/rentals/units/${id}/inspections`),
  inspect: (id: number, body: InspectionRequest) =>
    request<ResponseOf<'/api/v1/rentals/units/{id}/inspections', 'post'>>('POST', `/api/v1/rentals/units/${id}/inspections`, body),
  tenancies: (id: number) => request<ResponseOf<'/api/v1/rentals/units/{id}/tenancies', 'get'>>('GET', `/api/v1/rentals/units/${id}/tenancies`),
  checkIn: (id: number, body: CheckInRequest) =>
    request<ResponseOf<'/api/v1/rentals/units/{id}/tenancies', 'post'>>('POST', `/api/v1/rentals/units/${id}/tenancies`, body),
  checkOut: (tenancyId: number) =>
    request<ResponseOf<'/api/v1/rentals/tenancies/{id}/check-out', 'post'>>('POST', `/api/v1/rentals/tenancies/${tenancyId}/check-out`),
  overview: (q: Query) => request<ResponseOf<'/api/v1/rentals/overview', 'get'>>('GET', withQuery('/api/v1/rentals/overview', q)),
  uploadPhoto: (file: Blob, opts?: UploadOptions) => requestWithProgress<UploadedPhoto>('POST', '/api/v1/photos', file, opts),
  photoUrl: (unitId: number, sha: string) => `/api/v1/rentals/units/${unitId}/photos/${sha}`,
  qrSvg: (id: number) => `/api/v1/rentals/units/${id}/qr.svg`,
  qrPng: (id: number) => `/api/v1/rentals/units/${id}/qr.png`,
}

/** Without an account. */
export const publicRentals = {
  search: (q: Query) => request<ResponseOf<'/api/v1/public/rentals', 'get'> & Page<Listing>>('GET', withQuery('/api/v1/public/rentals', q)),
  listing: (token: string) =>
    request<ResponseOf<'/api/v1/public/rentals/{token}', 'get'>>('GET', `/api/v1/public/rentals/${encodeURIComponent(token)}`),
}

/** Roles that see the rental pages. */
export const RENTAL_ROLES = ['landlord', 'grid_worker', 'grid_chief', 'centre_operator', 'leader', 'admin']
