import { computed } from 'vue'
import { i18n } from './i18n'

const TZ = 'Asia/Shanghai'
const zhFmt = new Intl.DateTimeFormat('zh-CN', {
  timeZone: TZ, year: 'numeric', month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false,
})
const isoFmt = new Intl.DateTimeFormat('en-CA', {
  timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false,
})

/** A time (ms since the epoch, UTC) in China time: `2026年11月23日 14:05` or `2026-11-23 14:05`. */
export function formatTime(ms: number | null | undefined, locale?: string): string {
  if (ms === null || ms === undefined) return '—'
  const d = new Date(ms)
  const l = locale ?? i18n.global.locale.value
  if (l.startsWith('zh')) {
    const p = Object.fromEntries(zhFmt.formatToParts(d).map((x) => [x.type, x.value]))
    return `${p.year}年${p.month}月${p.day}日 ${p.hour === '24' ? '00' : p.hour}:${p.minute}`
  }
  return isoTime(ms)
}

/** A time in China time as `2026-11-23 14:05` whatever the language (exports); '' when absent. */
export function isoTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return ''
  const p = Object.fromEntries(isoFmt.formatToParts(new Date(ms)).map((x) => [x.type, x.value]))
  return `${p.year}-${p.month}-${p.day} ${p.hour === '24' ? '00' : p.hour}:${p.minute}`
}

/** A time in China time as `20261123-1405`, for file names. */
export function fileStamp(ms: number): string {
  return isoTime(ms).replace(/-/g, '').replace(' ', '-').replace(':', '')
}

export const isZh = computed(() => i18n.global.locale.value.startsWith('zh'))
