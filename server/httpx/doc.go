// Package httpx is the small HTTP toolkit every pod handler shares: JSON
// answers, the error shape of API.md ({"error","message"} with the right
// status), bounded JSON request decoding, and the middleware chain (panic
// recovery, request logging, Prometheus request metrics).
//
// Domain packages return *Error values (or wrap them) and let WriteError
// pick the status; anything else becomes a logged 500 whose text never
// reaches the client.
package httpx
