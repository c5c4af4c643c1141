import { createI18n } from 'vue-i18n'
import zhCN from './zh-CN'
import en from './en'
import portal from './portal'
import overview from './overview'
import patrols from './patrols'
import rentals from './rentals'
import mediation from './mediation'
import screen from './screen'
import safety from './safety'
import reports from './reports'

export type Locale = 'zh-CN' | 'en'
const KEY = 'pingan.locale'

export function savedLocale(): Locale {
  const v = typeof localStorage !== 'undefined' ? localStorage.getItem(KEY) : null
  return v === 'en' ? 'en' : 'zh-CN'
}

export const i18n = createI18n({
  legacy: false,
  locale: savedLocale(),
  fallbackLocale: 'zh-CN',
  messages: {
    'zh-CN': { ...zhCN, portal: portal['zh-CN'], ov: overview['zh-CN'], patrols: patrols['zh-CN'], rentals: rentals['zh-CN'], med: mediation['zh-CN'], screen: screen['zh-CN'], safety: safety['zh-CN'], reports: reports['zh-CN'] },
    en: { ...en, portal: portal.en, ov: overview.en, patrols: patrols.en, rentals: rentals.en, med: mediation.en, screen: screen.en, safety: safety.en, reports: reports.en },
  },
  missingWarn: false,
  fallbackWarn: false,
  // A text missing in the current language shows up as a console error (the browser tests fail on
  // it); the page still shows the fallback language's text, or the key.
  missing: (locale, key) => {
    console.error(`i18n missing: ${key} (${locale})`)
  },
})

export function setLocale(l: Locale) {
  i18n.global.locale.value = l
  localStorage.setItem(KEY, l)
  document.documentElement.lang = l
}

/**
 * Translates a value the API names (`group.key`, e.g. a state), falling back to a given fallback
 * (the API's own name) or the key itself when missing, which is reported as for any missing text.
 */
export function tr(group: string, key: string | null | undefined, fallback?: string): string {
  if (!key) return fallback ?? ''
  const k = `${group}.${key}`
  if (i18n.global.te(k)) return i18n.global.t(k)
  console.error(`i18n missing: ${k} (${i18n.global.locale.value})`)
  return fallback ?? key
}
