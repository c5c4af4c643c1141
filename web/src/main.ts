import { createApp } from 'vue'
import ElementPlus from 'element-plus'
import 'element-plus/dist/index.css'
import App from './App.vue'
import { i18n } from './i18n'
import { router } from './router'
import { setUnauthorizedHandler } from './api'
import { session } from './store'
import './style.css'

setUnauthorizedHandler(() => {
  session.me = null
  if (router.currentRoute.value.name !== 'login') router.push({ name: 'login' })
})

createApp(App).use(i18n).use(router).use(ElementPlus).mount('#app')

// The service worker (app shell cache for the phone app) only in production builds.
if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => undefined)
  })
}
