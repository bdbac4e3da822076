// Package readmetest runs the README's shell walk-throughs verbatim
// against real pods (issue 17: "The README's walk-throughs run verbatim
// in a test"), so the README cannot drift from what the pod does: the API
// quick start against a pod from `make run` (TestAPIQuickStart) and the
// three-pod walk-through with scripts/run_servers.sh
// (TestThreePodsWalkthrough), each in a network namespace of its own.
package readmetest
