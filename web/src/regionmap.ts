// A region's children (from GET /api/v1/map/{code}) drawn as a choropleth by their warning colour: the
// data screen's map (dark) and the warnings page's (light) share it.
import { echarts, type EChartsType } from './charts'
import type { ChildProps, MapView } from './overview'
import { WARN_COLOURS, type Colour } from './safety'

export interface WarningMapStyle {
  /** The colour of a child without a warning, its borders, its labels. */
  area: string
  border: string
  label: string
  labelBorder: string
  emphasis: string
}

export const LIGHT: WarningMapStyle = { area: '#eef2f7', border: '#ffffff', label: '#1f2d3d', labelBorder: 'rgba(255,255,255,0.85)', emphasis: '#9cc3ea' }
export const DARK: WarningMapStyle = { area: '#23415f', border: '#0b1a30', label: '#fff', labelBorder: '#0b1a30', emphasis: '#4fa3ff' }

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/**
 * Draws the children of `view` on `chart`, each filled with its colour in `colours` (by 12-digit code);
 * `tooltip` gives the HTML of a child's tooltip (escape what it shows). False when there is no shape.
 */
export function drawWarningMap(
  chart: EChartsType,
  view: MapView,
  colours: Map<string, Colour | null | undefined>,
  style: WarningMapStyle,
  tooltip: (child: ChildProps, colour: Colour | null) => string,
): boolean {
  const shown = view.features.features.filter((f) => f.geometry && f.geometry.coordinates.length > 0)
  if (shown.length === 0) {
    chart.clear()
    return false
  }
  const mapName = `pingan-warn-${view.region.code}`
  echarts.registerMap(mapName, { type: 'FeatureCollection', features: shown } as never)
  const byCode = new Map(shown.map((f) => [f.properties.code, f.properties]))
  const fill = (code: string) => {
    const c = colours.get(code)
    return c ? WARN_COLOURS[c] : style.area
  }
  const name = (p: { name: string }) => byCode.get(p.name)?.name ?? ''
  chart.setOption(
    {
      animation: false,
      tooltip: {
        trigger: 'item',
        formatter: (p: { name?: string }) => {
          const k = p.name ? byCode.get(p.name) : undefined
          return k ? tooltip(k, colours.get(k.code) ?? null) : ''
        },
      },
      geo: {
        map: mapName, nameProperty: 'code', roam: true, aspectScale: 0.87, layoutCenter: ['50%', '50%'], layoutSize: '95%',
        label: { show: shown.length <= 40, color: style.label, fontSize: 12, textBorderColor: style.labelBorder, textBorderWidth: 2, formatter: name },
        itemStyle: { areaColor: style.area, borderColor: style.border, borderWidth: 1 },
        emphasis: { label: { show: true, color: style.label, formatter: name }, itemStyle: { areaColor: style.emphasis } },
        select: { disabled: true },
        // The series draws through the geo component, so the warning colours go on its regions.
        regions: shown.map((f) => ({ name: f.properties.code, itemStyle: { areaColor: fill(f.properties.code) } })),
      },
      series: [{
        type: 'map', geoIndex: 0,
        data: shown.map((f) => ({ name: f.properties.code, value: f.properties.open, itemStyle: { areaColor: fill(f.properties.code) } })),
      }],
    },
    true,
  )
  return true
}
