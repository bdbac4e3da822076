package pod

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"
)

// dialUpgrade opens a tracker WebSocket at addr from the local address
// from (zero: any) and returns the connection and the HTTP status of the
// upgrade. extra headers go into the upgrade request.
func dialUpgrade(t *testing.T, addr string, from net.IP, extra http.Header) (net.Conn, int) {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second}
	if from != nil {
		d.LocalAddr = &net.TCPAddr{IP: from}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Errorf("dial %s from %v: %v", addr, from, err)
		return nil, 0
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/tracker/socket", nil)
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	req.Header.Set("Sec-WebSocket-Version", "13")
	for k, vs := range extra {
		req.Header[k] = vs
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if err := req.Write(c); err != nil {
		c.Close()
		t.Errorf("write upgrade: %v", err)
		return nil, 0
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		c.Close()
		t.Errorf("read upgrade answer: %v", err)
		return nil, 0
	}
	_ = c.SetDeadline(time.Time{})
	return c, resp.StatusCode
}

// TestTrustedProxyTrackerSockets is issue 11's acceptance for reverse
// proxies: behind a proxy (httputil.ReverseProxy, as nginx or Caddy would
// forward), 500 viewers from distinct addresses each get a tracker socket
// although every connection reaches the pod from the proxy's one address;
// a forged X-Forwarded-For from an address that is not a trusted proxy
// changes nothing. The per-address cap is 2 so that both halves are cheap.
func TestTrustedProxyTrackerSockets(t *testing.T) {
	p := startInProcess(t, "--trusted-proxies", "127.0.0.1", "--tracker-max-conns-per-ip", "2")
	target, _ := url.Parse(p.URL())
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.SetXForwarded() // X-Forwarded-For: the viewer's real address
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	proxy := &http.Server{Handler: rp}
	go proxy.Serve(ln)
	t.Cleanup(func() { proxy.Close() })

	// Viewers dial from 127.0.1.1…: distinct real addresses on loopback,
	// none of them the trusted proxy 127.0.0.1.
	const viewers = 500
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	refused := 0
	for i := range viewers {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			from := net.IPv4(127, 0, byte(1+i/250), byte(1+i%250))
			c, code := dialUpgrade(t, ln.Addr().String(), from, nil)
			mu.Lock()
			defer mu.Unlock()
			if c != nil {
				conns = append(conns, c)
			}
			if code != http.StatusSwitchingProtocols {
				refused++
			}
		}()
	}
	wg.Wait()
	if refused > 0 {
		t.Fatalf("%d of %d viewers behind the trusted proxy got no tracker socket", refused, viewers)
	}

	// Through the proxy, a viewer forging X-Forwarded-For still counts as
	// itself: the proxy appends the real address, and the pod reads from
	// the right.
	forgeFrom := net.IPv4(127, 0, 9, 9)
	for i := range 3 {
		c, code := dialUpgrade(t, ln.Addr().String(), forgeFrom, http.Header{"X-Forwarded-For": {fmt.Sprintf("198.51.100.%d", i)}})
		if c != nil {
			conns = append(conns, c)
		}
		if want := http.StatusSwitchingProtocols; i == 2 {
			if code != http.StatusTooManyRequests {
				t.Errorf("3rd socket from one viewer forging X-Forwarded-For via the proxy: %d, want 429", code)
			}
		} else if code != want {
			t.Errorf("socket %d from a viewer via the proxy: %d, want %d", i+1, code, want)
		}
	}
	// Directly from an untrusted address, forged headers are ignored.
	direct := target.Host
	for i := range 3 {
		c, code := dialUpgrade(t, direct, net.IPv4(127, 0, 8, 8), http.Header{
			"X-Forwarded-For": {fmt.Sprintf("203.0.113.%d", i)},
			"Forwarded":       {fmt.Sprintf("for=203.0.113.%d", i)},
		})
		if c != nil {
			conns = append(conns, c)
		}
		if i == 2 && code != http.StatusTooManyRequests {
			t.Errorf("3rd direct socket from one address with forged headers: %d, want 429", code)
		} else if i < 2 && code != http.StatusSwitchingProtocols {
			t.Errorf("direct socket %d: %d, want 101", i+1, code)
		}
	}
}
