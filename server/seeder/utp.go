package seeder

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/anacrolix/utp"
)

// utpSocket is the seeder's uTP (BEP 29) socket: the pure-Go
// github.com/anacrolix/utp, used as both an anacrolix Listener and Dialer
// in place of the built-in one. The built-in one is chosen by anacrolix at
// compile time: go-libutp (cgo) when cgo is on, this package otherwise, so
// the same source gave a different uTP stack depending on whether the
// building machine had a C compiler. go-libutp's packetisation stalls
// Transmission 3.00; the package documentation has the evidence.
type utpSocket struct {
	s       *utp.Socket
	network string // "udp4", "udp6" or "udp" (both)
}

// listenUTP opens a uTP socket on host:port; host "" means all
// interfaces, port 0 a free port.
func listenUTP(host string, port int) (*utpSocket, error) {
	network := "udp"
	if ip := net.ParseIP(host); ip != nil {
		if ip.To4() != nil {
			network = "udp4"
		} else {
			network = "udp6"
		}
	}
	s, err := utp.NewSocket(network, net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("seeder: listen uTP on %s port %d: %w", host, port, err)
	}
	return &utpSocket{s: s, network: network}, nil
}

// port returns the UDP port the socket is bound to.
func (u *utpSocket) port() int { return u.s.Addr().(*net.UDPAddr).Port }

// Accept and Addr make utpSocket an anacrolix torrent.Listener.
func (u *utpSocket) Accept() (net.Conn, error) { return u.s.Accept() }

func (u *utpSocket) Addr() net.Addr { return u.s.Addr() }

// Dial and DialerNetwork make it an anacrolix torrent.Dialer.
func (u *utpSocket) Dial(ctx context.Context, addr string) (net.Conn, error) {
	return u.s.DialContext(ctx, u.network, addr)
}

func (u *utpSocket) DialerNetwork() string { return u.network }

// Close drops every uTP connection at once and releases the port.
func (u *utpSocket) Close() error { return u.s.CloseNow() }
