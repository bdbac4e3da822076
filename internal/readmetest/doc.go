// Package readmetest runs the README's shell walk-throughs verbatim
// against real pods (issue 17: "The README's walk-throughs run verbatim
// in a test"), so the README cannot drift from what the pod does.
package readmetest
