// Package api holds the JSON shapes of the public REST interface (/api/v1),
// shared by the pod, the browser peer and tests, so one definition serves
// both sides. It imports only the standard library and builds for js/wasm.
//
// The interface itself is specified in API.md; every field here is part of
// that stable contract: add fields freely, never rename or remove them.
package api
