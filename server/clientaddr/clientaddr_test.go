package clientaddr

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func mustPrefixes(t testing.TB, s string) []netip.Prefix {
	t.Helper()
	p, err := ParsePrefixes(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParsePrefixes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{in: "", want: nil},
		{in: "10.0.0.0/8", want: []string{"10.0.0.0/8"}},
		{in: " 127.0.0.1 , ::1", want: []string{"127.0.0.1/32", "::1/128"}},
		{in: "10.1.2.3/8", want: []string{"10.0.0.0/8"}},
		{in: "::ffff:10.0.0.0/104", want: []string{"10.0.0.0/8"}},
		{in: "fd00::/8,", want: []string{"fd00::/8"}},
		{in: "10.0.0.0/33", wantErr: true},
		{in: "proxy.example", wantErr: true},
		{in: "10.0.0.0/8,nope", wantErr: true},
	} {
		got, err := ParsePrefixes(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParsePrefixes(%q) err = %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if len(got) != len(tc.want) {
			t.Errorf("ParsePrefixes(%q) = %v, want %v", tc.in, got, tc.want)
			continue
		}
		for i := range got {
			if got[i].String() != tc.want[i] {
				t.Errorf("ParsePrefixes(%q)[%d] = %v, want %v", tc.in, i, got[i], tc.want[i])
			}
		}
	}
}

func TestParseForwarded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		in     []string
		want   []Element
		wantOK bool
	}{
		{"rfc example 1", []string{`for="_gazonk"`}, []Element{{}}, true},
		{"rfc example 2", []string{`For="[2001:db8:cafe::17]:4711"`},
			[]Element{{For: netip.MustParseAddr("2001:db8:cafe::17")}}, true},
		{"rfc example 3", []string{`for=192.0.2.60;proto=http;by=203.0.113.43`},
			[]Element{{For: netip.MustParseAddr("192.0.2.60"), Proto: "http"}}, true},
		{"rfc example 4", []string{`for=192.0.2.43, for=198.51.100.17`},
			[]Element{{For: netip.MustParseAddr("192.0.2.43")}, {For: netip.MustParseAddr("198.51.100.17")}}, true},
		{"two header lines", []string{`for=192.0.2.43`, `for=198.51.100.17;proto=HTTPS`},
			[]Element{{For: netip.MustParseAddr("192.0.2.43")}, {For: netip.MustParseAddr("198.51.100.17"), Proto: "https"}}, true},
		{"unknown", []string{`for=unknown`}, []Element{{}}, true},
		{"quoted ipv4 with port", []string{`for="192.0.2.1:8080"`}, []Element{{For: netip.MustParseAddr("192.0.2.1")}}, true},
		{"escape in quoted", []string{`for="\"x"`}, []Element{{}}, true},
		{"empty pairs", []string{`;for=192.0.2.1;;`}, []Element{{For: netip.MustParseAddr("192.0.2.1")}}, true},
		{"comma inside quotes", []string{`for="a,b";proto=https`}, []Element{{Proto: "https"}}, true},
		{"unquoted ipv6 is a syntax error", []string{`for=[2001:db8::1]`}, nil, false},
		{"unquoted port is a syntax error", []string{`for=192.0.2.1:80`}, nil, false},
		{"duplicate for", []string{`for=192.0.2.1;for=192.0.2.2`}, nil, false},
		{"unterminated quote", []string{`for="192.0.2.1`}, nil, false},
		{"no value", []string{`for=`}, nil, false},
		{"no equals", []string{`for`}, nil, false},
		{"junk after value", []string{`for=192.0.2.1 x`}, nil, false},
		{"zone refused", []string{`for="[fe80::1%eth0]"`}, []Element{{}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseForwarded(tc.in)
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v (elems %v)", ok, tc.wantOK, got)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("[%d] = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
	many := ""
	for i := 0; i < maxElements+1; i++ {
		many += "for=192.0.2.1,"
	}
	if _, ok := ParseForwarded([]string{many}); ok {
		t.Errorf("%d elements accepted, want refusal beyond %d", maxElements+1, maxElements)
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	rs := NewResolver(mustPrefixes(t, "10.0.0.0/8,::1"))
	for _, tc := range []struct {
		name       string
		remote     string
		tls        bool
		headers    map[string][]string
		wantAddr   string
		wantSecure bool
	}{
		{name: "untrusted peer, no headers", remote: "203.0.113.5:1234", wantAddr: "203.0.113.5"},
		{name: "untrusted peer forges XFF", remote: "203.0.113.5:1234",
			headers:  map[string][]string{"X-Forwarded-For": {"198.51.100.1"}, "X-Forwarded-Proto": {"https"}},
			wantAddr: "203.0.113.5"},
		{name: "untrusted peer forges Forwarded", remote: "203.0.113.5:1234",
			headers:  map[string][]string{"Forwarded": {"for=198.51.100.1;proto=https"}},
			wantAddr: "203.0.113.5"},
		{name: "untrusted peer over TLS", remote: "203.0.113.5:1234", tls: true, wantAddr: "203.0.113.5", wantSecure: true},
		{name: "trusted proxy, no headers", remote: "10.0.0.2:1234", wantAddr: "10.0.0.2"},
		{name: "trusted proxy, XFF", remote: "10.0.0.2:1234",
			headers:    map[string][]string{"X-Forwarded-For": {"198.51.100.7"}, "X-Forwarded-Proto": {"https"}},
			wantAddr:   "198.51.100.7",
			wantSecure: true},
		{name: "trusted proxy, client-forged left entries ignored", remote: "10.0.0.2:1234",
			headers:  map[string][]string{"X-Forwarded-For": {"1.2.3.4, 5.6.7.8", "198.51.100.7"}},
			wantAddr: "198.51.100.7"},
		{name: "chain of trusted proxies skipped", remote: "10.0.0.2:1234",
			headers:  map[string][]string{"X-Forwarded-For": {"198.51.100.7, 10.9.9.9, 10.8.8.8"}},
			wantAddr: "198.51.100.7"},
		{name: "all hops trusted: leftmost", remote: "10.0.0.2:1234",
			headers:  map[string][]string{"X-Forwarded-For": {"10.1.1.1, 10.2.2.2"}},
			wantAddr: "10.1.1.1"},
		{name: "garbage hop stops the walk at the last trusted", remote: "10.0.0.2:1234",
			headers:  map[string][]string{"X-Forwarded-For": {"198.51.100.7, garbage, 10.3.3.3"}},
			wantAddr: "10.3.3.3"},
		{name: "XFF with ports and brackets", remote: "[::1]:1234",
			headers:  map[string][]string{"X-Forwarded-For": {"[2001:db8::7]:555"}},
			wantAddr: "2001:db8::7"},
		{name: "mapped addresses unmapped", remote: "[::ffff:10.0.0.2]:1234",
			headers:  map[string][]string{"X-Forwarded-For": {"::ffff:198.51.100.7"}},
			wantAddr: "198.51.100.7"},
		{name: "proto list matched to the client hop", remote: "10.0.0.2:1234",
			headers: map[string][]string{"X-Forwarded-For": {"198.51.100.7, 10.9.9.9"},
				"X-Forwarded-Proto": {"https, http"}},
			wantAddr: "198.51.100.7", wantSecure: true},
		{name: "proto http from proxy over TLS", remote: "10.0.0.2:1234", tls: true,
			headers:  map[string][]string{"X-Forwarded-Proto": {"http"}},
			wantAddr: "10.0.0.2"},
		{name: "Forwarded wins over XFF", remote: "10.0.0.2:1234",
			headers: map[string][]string{"Forwarded": {"for=198.51.100.9;proto=https"},
				"X-Forwarded-For": {"198.51.100.7"}},
			wantAddr: "198.51.100.9", wantSecure: true},
		{name: "Forwarded chain", remote: "10.0.0.2:1234",
			headers:  map[string][]string{"Forwarded": {`for=1.2.3.4, for="[2001:db8::9]";proto=https, for=10.5.5.5;proto=http`}},
			wantAddr: "2001:db8::9", wantSecure: true},
		{name: "Forwarded unknown stops the walk", remote: "10.0.0.2:1234",
			headers:  map[string][]string{"Forwarded": {`for=198.51.100.9, for=unknown`}},
			wantAddr: "10.0.0.2"},
		{name: "Forwarded syntax error: peer only", remote: "10.0.0.2:1234",
			headers:  map[string][]string{"Forwarded": {`for=198.51.100.9;;x`}, "X-Forwarded-For": {"198.51.100.7"}},
			wantAddr: "10.0.0.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			for k, vs := range tc.headers {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			got := rs.Resolve(r)
			if got.Addr.String() != tc.wantAddr || got.Secure != tc.wantSecure {
				t.Errorf("Resolve = %v secure=%v, want %v secure=%v", got.Addr, got.Secure, tc.wantAddr, tc.wantSecure)
			}
			// Through the middleware, Addr and Secure see the same.
			var addr netip.Addr
			var secure bool
			rs.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				addr, secure = Addr(r), Secure(r)
			})).ServeHTTP(httptest.NewRecorder(), r)
			if addr != got.Addr || secure != got.Secure {
				t.Errorf("through middleware: %v secure=%v, want %v secure=%v", addr, secure, got.Addr, got.Secure)
			}
		})
	}
}

func TestNoTrustedProxies(t *testing.T) {
	t.Parallel()
	rs := NewResolver(nil)
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:5"
	r.Header.Set("X-Forwarded-For", "198.51.100.7")
	r.Header.Set("X-Forwarded-Proto", "https")
	rs.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		if a := Addr(r); a.String() != "127.0.0.1" {
			t.Errorf("Addr = %v, want the peer 127.0.0.1", a)
		}
		if Secure(r) {
			t.Error("Secure = true from a header nobody trusts")
		}
	})).ServeHTTP(httptest.NewRecorder(), r)
}

func FuzzParseForwarded(f *testing.F) {
	for _, s := range []string{
		`for="_gazonk"`, `For="[2001:db8:cafe::17]:4711"`, `for=192.0.2.60;proto=http;by=203.0.113.43`,
		`for=192.0.2.43, for=198.51.100.17`, `for="\"x"`, `;;`, `for=unknown;proto=https`, `for="a,b"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		elems, ok := ParseForwarded([]string{s})
		if !ok && elems != nil {
			t.Fatal("elements returned with ok=false")
		}
		if len(elems) > maxElements {
			t.Fatalf("%d elements", len(elems))
		}
		for _, e := range elems {
			if e.For.IsValid() && (e.For.Zone() != "" || e.For.Is4In6()) {
				t.Fatalf("for %v not normalised", e.For)
			}
		}
	})
}

func FuzzResolve(f *testing.F) {
	f.Add("198.51.100.7, 10.9.9.9", "https", "for=198.51.100.9;proto=https")
	f.Add("[2001:db8::7]:555", "http", "")
	f.Add("garbage,,", "", `for="[::1]"`)
	rs := NewResolver(mustPrefixes(f, "10.0.0.0/8,::1"))
	f.Fuzz(func(t *testing.T, xff, proto, fwd string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "10.0.0.2:1"
		r.Header.Set("X-Forwarded-For", xff)
		r.Header.Set("X-Forwarded-Proto", proto)
		if fwd != "" {
			r.Header.Set("Forwarded", fwd)
		}
		info := rs.Resolve(r)
		if !info.Addr.IsValid() {
			t.Fatal("a trusted peer's request resolved to no address")
		}
		// From an untrusted peer the same headers change nothing.
		r.RemoteAddr = "203.0.113.1:1"
		if got := rs.Resolve(r); got.Addr.String() != "203.0.113.1" || got.Secure {
			t.Fatalf("untrusted peer resolved to %+v", got)
		}
	})
}
