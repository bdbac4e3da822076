// Package netlab builds small multi-host networks for tests out of Linux
// network namespaces: an "internet" segment, hosts on it, and home routers
// doing NAT with nftables for LANs behind them. Every host is a namespace
// in which tests run real programs (the pod binary, Chromium,
// Transmission, aria2c, tcpdump) with Host.Command, or Go code with
// Host.Do, Host.Listen and Host.DialContext.
//
//	           the test process (its own namespace: never linked to the lab)
//	               │ Host.Forward: 127.0.0.1:port → relayed from inside a host
//	               ▼
//	┌──────────────────── namespace swlab-<pid>-<n>-inet ────────────────────┐
//	│                     bridge br0: 203.0.113.0/24                         │
//	└────┬──────────────────────┬─────────────────────────────┬──────────────┘
//	     │ veth                 │ veth                        │ veth
//	┌────┴─────────┐    ┌───────┴──────────────┐      ┌───────┴──────────────┐
//	│ host "pod"   │    │ router "home-a"      │      │ router "home-b"      │
//	│ eth0         │    │ eth0 203.0.113.2     │      │ eth0 203.0.113.3     │
//	│ 203.0.113.1  │    │ nft: masquerade      │      │ nft: masquerade      │
//	└──────────────┘    │ (endpoint-indep.)    │      │ random,fully-random  │
//	                    │ lan0 192.168.1.1/24  │      │ (symmetric)          │
//	                    └───────┬──────────────┘      │ lan0 192.168.2.1/24  │
//	                            │ veth                └───────┬──────────────┘
//	                    ┌───────┴──────────────┐              │ veth
//	                    │ host "viewer-a"      │      ┌───────┴──────────────┐
//	                    │ eth0 192.168.1.2     │      │ host "viewer-b"      │
//	                    │ default via .1       │      │ eth0 192.168.2.2     │
//	                    └──────────────────────┘      └──────────────────────┘
//
// Built by:
//
//	lab := netlab.New(t)                                // skips if namespaces cannot be made
//	pod := lab.Host("pod")                              // 203.0.113.1
//	a := lab.Router("home-a", netlab.EndpointIndependent).Host("viewer-a")
//	b := lab.Router("home-b", netlab.Symmetric).Host("viewer-b")
//	cmd := pod.Command(ctx, "/path/to/swarmtube", "--listen", "203.0.113.1:8080")
//	resp, err := a.HTTPClient().Get("http://203.0.113.1:8080/")
//
// # Addresses and isolation
//
// Internet hosts and routers' WAN sides take the lowest free address of
// 203.0.113.0/24 (RFC 5737 TEST-NET-3), in the order they are added, so
// the first host of a lab is 203.0.113.1 (HostAt picks one explicitly).
// Router k serves 192.168.k.0/24: it is .1, its LAN hosts are .2, .3, …
// with a default route through it. Internet hosts have no default route.
//
// The lab has no link to the namespace the tests run in, nor to any real
// interface: a packet to an address outside these ranges finds no route
// ("network is unreachable") and goes nowhere. The only way in is
// Host.Forward, a relay on 127.0.0.1 that dials from inside a host.
//
// # NAT
//
// Routers translate only LAN traffic leaving eth0; their forward chain
// drops everything from the internet that is not a reply (conntrack
// established/related), so LAN hosts are unreachable unless they speak
// first, as behind a real home router. Filtering is address-and-port
// dependent for both kinds (conntrack matches replies on the full
// 5-tuple). The mapping differs (RFC 4787 section 4.1):
//   - EndpointIndependent: `masquerade` keeps the LAN source port when it
//     is free, so one LAN socket has one public port for every
//     destination, which STUN can learn and a peer can punch through;
//   - Symmetric: `masquerade random,fully-random` gives every new
//     destination a new random public port, so only a relay (TURN), or a
//     peer whose own NAT is open, connects.
//
// # Names and clean-up
//
// A namespace is named swlab-<pid>-<n>-<host>: <pid> is the test process
// and <n> counts labs within it, so parallel tests and parallel test
// binaries never collide. tb.Cleanup kills every process still running
// in the lab's namespaces (SIGKILL, after the test's own clean-ups, which
// run first) and deletes the namespaces, which removes their veths and
// bridges, whether the test passed or failed. Namespaces whose <pid> is
// no longer alive (a test binary killed before its clean-up) are deleted
// by the next New in any test process.
//
// # Running code inside
//
// Host.Command wraps `ip netns exec <ns> prog args…` in an exec.Cmd bound
// to a context; the process is the program itself (ip execs it), sees the
// same file system, and only the host's network. Host.Do runs a Go
// function on an OS thread that has entered the namespace (setns(2)); a
// socket created there stays in that namespace when used from any
// goroutine later, which is what Host.Listen, Host.ListenPacket,
// Host.DialContext and Host.HTTPClient rely on. Goroutines started inside
// Do, and anything a library dials later on its own goroutines, run in the
// test's namespace: run such code as a separate process with Command
// (e.g. the pod binary, or the test binary itself with -test.run).
//
// # Requirements
//
// Linux, root (CAP_NET_ADMIN and CAP_SYS_ADMIN), iproute2's `ip`, and
// nftables' `nft` for routers; scripts/install-test-deps.sh installs both.
// Without root, or where the kernel refuses to create a namespace, New
// skips the test with the reason; a missing `ip` or `nft` skips too,
// except in CI (CI=true), where it fails, as package testenv does.
package netlab
