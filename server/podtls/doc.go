// Package podtls gives the pod its HTTPS: the certificates of its TLS
// listener and the plain-HTTP listener beside it.
//
// Certificates come from one of two places:
//
//   - Files (--tls-cert, --tls-key): a PEM chain and its key. They are read
//     again when their modification time or size changes (looked at once
//     a minute at most, on a handshake), so a renewal by certbot or another
//     tool needs no restart; a pair that fails to load keeps the previous
//     certificate in service and is logged.
//   - ACME (--acme-domain): golang.org/x/crypto/acme/autocert obtains a
//     certificate for each name on its first handshake and renews it 30
//     days before expiry, from Let's Encrypt or the CA at --acme-directory
//     (RFC 8555). Accounts keys and certificates are cached in
//     <data>/acme, so a restart asks the CA for nothing. The CA validates
//     with tls-alpn-01 (RFC 8737) on the TLS listener or with http-01 on
//     the plain-HTTP listener, whichever it reaches.
//
// The plain-HTTP listener (--http-listen, ":80" with ACME) answers
// /.well-known/acme-challenge/ for ACME and redirects everything else to
// the same path under the pod's public https URL (301 for GET and HEAD,
// 308 otherwise so a method and body are kept), never to the Host the
// request named.
//
// Metrics: swarmtube_tls_certificate_not_after_seconds{name}, the expiry
// (Unix seconds) of the certificate served for each name, so a host can
// alert before it lapses.
package podtls
