// ECharts with only the parts the overview pages draw (keeps the bundle lean): maps of
// registered GeoJSON (no tiles, nothing from the internet), scatter points, outlines, bars.
import * as echarts from 'echarts/core'
import { MapChart, ScatterChart, LinesChart, BarChart, LineChart, GaugeChart } from 'echarts/charts'
import { GeoComponent, TooltipComponent, VisualMapComponent, GridComponent } from 'echarts/components'
import { CanvasRenderer } from 'echarts/renderers'

echarts.use([MapChart, ScatterChart, LinesChart, BarChart, LineChart, GaugeChart, GeoComponent, TooltipComponent, VisualMapComponent, GridComponent, CanvasRenderer])

export { echarts }
export type { EChartsType } from 'echarts/core'
