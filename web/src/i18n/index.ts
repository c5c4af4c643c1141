import { createI18n } from 'vue-i18n'
import zhCN from './zh-CN'
import en from './en'
import portal from './portal'
import overview from './overview'

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
  messages: { 'zh-CN': { ...zhCN, portal: portal['zh-CN'], ov: overview['zh-CN'] }, en: { ...en, portal: portal.en, ov: overview.en } },
  missingWarn: false,
  fallbackWarn: false,
})

export function setLocale(l: Locale) {
  i18n.global.locale.value = l
  localStorage.setItem(KEY, l)
  document.documentElement.lang = l
}

/** Translates `group.key`, falling back to the key itself (or a given fallback) when missing. */
export function tr(group: string, key: string | null | undefined, fallback?: string): string {
  if (!key) return fallback ?? ''
  const k = `${group}.${key}`
  return i18n.global.te(k) ? i18n.global.t(k) : (fallback ?? key)
}
