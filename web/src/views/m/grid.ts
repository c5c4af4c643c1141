// The worker's own grid (name, village, township), cached in localStorage so it shows offline too.
import { reactive } from 'vue'
import { session } from '../../store'
import type { ResponseOf } from '../../api'

export interface MyGrid {
  code: string
  name: string
  village: string
  township: string
}

/** TODO(openapi): `GET /api/v1/grids/{code}` answers `Object`; the server sends a GeoJSON Feature of the grid. */
type GridFeature = { type: 'Feature'; properties: { code: string; name: string; village_code: string }; geometry: unknown }
type Region = ResponseOf<'/api/v1/regions/{code}', 'get'>

const KEY = 'pingan.m.grid'

export const myGrid = reactive<MyGrid>({ code: '', name: '', village: '', township: '' })

function cached(code: string): MyGrid | null {
  try {
    const g = JSON.parse(localStorage.getItem(KEY) ?? 'null') as MyGrid | null
    return g && g.code === code ? g : null
  } catch {
    return null
  }
}

async function getJson<T>(path: string): Promise<T> {
  const r = await fetch(path, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
  if (!r.ok) throw new Error(String(r.status))
  return (await r.json()) as T
}

export async function loadMyGrid(): Promise<MyGrid> {
  const code = session.me?.scope ?? ''
  const c = cached(code)
  if (c) Object.assign(myGrid, c)
  else Object.assign(myGrid, { code, name: '', village: '', township: '' })
  if (c && c.name) return myGrid
  if (!navigator.onLine || code.length !== 15) return myGrid
  try {
    const g = await getJson<GridFeature>(`/api/v1/grids/${code}`)
    myGrid.name = g.properties.name
    const v = await getJson<Region>(`/api/v1/regions/${g.properties.village_code}`)
    myGrid.village = v.name
    if (v.parent_code) {
      const tw = await getJson<Region>(`/api/v1/regions/${v.parent_code}`).catch(() => null)
      myGrid.township = tw?.name ?? ''
    }
    localStorage.setItem(KEY, JSON.stringify({ ...myGrid }))
  } catch {
    // Offline or not visible: the code alone will do.
  }
  return myGrid
}
