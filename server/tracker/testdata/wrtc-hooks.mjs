// Module resolution hook for interop.mjs: 'webrtc-polyfill' -> fake-wrtc.mjs.
export async function resolve (specifier, context, next) {
  if (specifier === 'webrtc-polyfill') {
    return { url: new URL('./fake-wrtc.mjs', import.meta.url).href, shortCircuit: true }
  }
  return next(specifier, context)
}
