// Package jsutil is the engine's whole syscall/js toolbox: awaiting
// promises, returning promises to JavaScript, converting bytes, and
// wrapping Go callbacks so a panic becomes a rejected promise instead of
// killing the wasm instance. It builds only for js/wasm.
//
// Callbacks registered with [Promise] and [Func] never block the JavaScript
// event loop: the Go work runs on its own goroutine.
package jsutil
