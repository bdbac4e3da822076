// Package fedproto is the wire format of pod-to-pod federation: the JSON
// messages pods exchange, their validation, and the HTTP Signature scheme
// that authenticates every request. It is shared by the pod
// (server/federation) and anything else that speaks to pods, builds for
// GOOS=js as well as natively, and imports only the standard library and
// server/api.
//
// # Signatures
//
// Every request is signed with the sender pod's RSA key (at least 2048
// bits) following draft-cavage-http-signatures as federated servers use it:
//
//	Date: Mon, 02 Jan 2006 15:04:05 GMT
//	Digest: SHA-256=<base64 of SHA-256 of the body>
//	Signature: keyId="<sender pod URL>",algorithm="rsa-sha256",
//	           headers="(request-target) host date digest",signature="<base64>"
//
// The signing string is the listed headers in order, each as
// "name: value" joined by "\n", with (request-target) being
// "<lower-case method> <path>[?query]". A receiver requires every one of
// RequiredHeaders to be covered, rsa-sha256, a Digest that matches the
// body, a Date within MaxClockSkew of its own clock, and a key it already
// holds for keyId (the introduction carries its own key, which the receiver
// confirms against the sender's published pod info). ParseSignature is
// strict: duplicate, unknown-but-malformed or oversized parameters are
// refused, so what the verifier checks is exactly what was signed. The
// pod signs with federation.SignRequest and verifies with go-fed/httpsig
// (package federation); this package holds the parts both sides share.
//
// # Messages
//
// Events carry video metadata changes from their origin pod. Each has the
// origin's URL and a sequence number that increases with every change on
// the origin (an event id is origin + "#" + seq), a type (add, update,
// remove) and, except for removals, the whole video object with the id it
// has on the origin. A receiver applies an origin's events in sequence
// order and remembers the highest sequence applied, so a redelivered event
// is recognised and never applied twice. The message shapes, routes and
// status codes are specified in server/federation's package documentation.
package fedproto
