// Package api holds the JSON shapes of the public REST interface (/api/v1):
// what the pod's handlers write and what its CLI and tests read. The browser
// reads the same JSON from its pages' JavaScript, not through this package.
//
// The interface itself is specified in API.md; every field here is part of
// that stable contract: add fields freely, never rename or remove them.
package api
