// Package deploy tests the pod as it runs on the internet, against the
// real programs a host uses: certificates from an ACME CA (Let's Encrypt's
// pebble, run in-process on 127.0.0.1 with its VA pointed at a DNS server
// of the test), and the pod behind the reverse proxies of docs/deploy.md
// (Debian's caddy and nginx, driven with the very configurations that
// document shows, read from it). It has no code outside its tests.
package deploy
