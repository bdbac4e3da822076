package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/internal/testcert"
)

func TestParse(t *testing.T) {
	t.Parallel()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr bool
		check   func(t *testing.T, c Config)
	}{
		{name: "defaults", check: func(t *testing.T, c Config) {
			if c.Listen != "127.0.0.1:9000" || c.URL != "http://127.0.0.1:9000" || c.DataDir != "./data" || !c.OpenRegistration || c.Name != "127.0.0.1:9000" {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{name: "env sets, flag overrides", args: []string{"--name", "flag"},
			env: map[string]string{"SWARMTUBE_NAME": "env", "SWARMTUBE_BT_PORT": "6881", "SWARMTUBE_OPEN_REGISTRATION": "false"},
			check: func(t *testing.T, c Config) {
				if c.Name != "flag" || c.BTPort != 6881 || c.OpenRegistration {
					t.Errorf("got %+v", c)
				}
			}},
		{name: "wildcard listen gives localhost url", args: []string{"--listen", ":9001"}, check: func(t *testing.T, c Config) {
			if c.URL != "http://localhost:9001" {
				t.Errorf("url %q", c.URL)
			}
		}},
		{name: "friends and rights", args: []string{"--friends", "http://a:1/, http://b:2", "--default-rights", "upload"}, check: func(t *testing.T, c Config) {
			if len(c.Friends) != 2 || c.Friends[0] != "http://a:1" || len(c.DefaultRights) != 1 {
				t.Errorf("got %+v", c)
			}
		}},
		{name: "trusted proxies and tracker limits", args: []string{"--trusted-proxies", "10.0.0.0/8, ::1", "--tracker-max-conns-per-ip", "-1", "--tracker-rate", "2.5"},
			check: func(t *testing.T, c Config) {
				if len(c.TrustedProxies) != 2 || c.TrustedProxies[1].String() != "::1/128" || c.TrackerMaxConnsPerIP != -1 || c.TrackerRate != 2.5 {
					t.Errorf("got %+v", c)
				}
			}},
		{name: "bad trusted proxy", args: []string{"--trusted-proxies", "proxy.example"}, wantErr: true},
		{name: "zero tracker cap", args: []string{"--tracker-max-conns-per-ip", "0"}, wantErr: true},
		{name: "bad listen", args: []string{"--listen", "nope"}, wantErr: true},
		{name: "bad url", args: []string{"--url", "ftp://x"}, wantErr: true},
		{name: "url with path", args: []string{"--url", "http://x/y"}, wantErr: true},
		{name: "bad port", args: []string{"--bt-port", "70000"}, wantErr: true},
		{name: "bad right", args: []string{"--default-rights", "root"}, wantErr: true},
		{name: "bad friend", args: []string{"--friends", "localhost"}, wantErr: true},
		{name: "bad env", env: map[string]string{"SWARMTUBE_BT_PORT": "x"}, wantErr: true},
		{name: "stray arg", args: []string{"extra"}, wantErr: true},
		{name: "bad level", args: []string{"--log-level", "loud"}, wantErr: true},
		{name: "resolutions", args: []string{"--resolutions", "720p, 360"}, check: func(t *testing.T, c Config) {
			if !slices.Equal(c.Resolutions, []int{720, 360}) {
				t.Errorf("resolutions %v", c.Resolutions)
			}
		}},
		{name: "no resolutions", args: []string{"--resolutions", ""}, check: func(t *testing.T, c Config) {
			if c.Resolutions == nil || len(c.Resolutions) != 0 {
				t.Errorf("resolutions %#v, want an empty ladder", c.Resolutions)
			}
		}},
		{name: "bad resolution", args: []string{"--resolutions", "720,4320"}, wantErr: true},
		{name: "turn defaults", check: func(t *testing.T, c Config) {
			if c.TURN.Listen != "127.0.0.1:3478" || c.TURN.MaxMbps != 50 || c.TURN.PublicIP != nil || c.ICEServers != nil {
				t.Errorf("got %+v, ice %v", c.TURN, c.ICEServers)
			}
		}},
		{name: "turn flags", args: []string{"--turn-listen", "OFF", "--turn-public-ip", "203.0.113.5", "--turn-relay-ports", "50000-50100", "--turn-max-mbps", "8.5"},
			check: func(t *testing.T, c Config) {
				if c.TURN.Listen != "" || c.TURN.PublicIP.String() != "203.0.113.5" || c.TURN.RelayMinPort != 50000 || c.TURN.RelayMaxPort != 50100 || c.TURN.MaxMbps != 8.5 {
					t.Errorf("got %+v", c.TURN)
				}
			}},
		{name: "bad turn listen", args: []string{"--turn-listen", "3478"}, wantErr: true},
		{name: "bad turn ip", args: []string{"--turn-public-ip", "pod.example"}, wantErr: true},
		{name: "ipv6 turn ip", args: []string{"--turn-public-ip", "2001:db8::1"}, wantErr: true},
		{name: "reversed relay ports", args: []string{"--turn-relay-ports", "60000-50000"}, wantErr: true},
		{name: "relay ports not a range", args: []string{"--turn-relay-ports", "50000"}, wantErr: true},
		{name: "zero budget", args: []string{"--turn-max-mbps", "0"}, wantErr: true},
		{name: "NaN budget", args: []string{"--turn-max-mbps", "NaN"}, wantErr: true},
		{name: "ice servers", args: []string{"--ice-servers", `[{"urls":"stun:stun.example.org:3478"},{"urls":["turn:turn.example.org?transport=tcp"],"username":"u","credential":"p"}]`},
			check: func(t *testing.T, c Config) {
				if len(c.ICEServers) != 2 || c.ICEServers[0].URLs[0] != "stun:stun.example.org:3478" || c.ICEServers[1].Username != "u" {
					t.Errorf("got %+v", c.ICEServers)
				}
			}},
		{name: "ice servers off", args: []string{"--ice-servers", "[]"}, check: func(t *testing.T, c Config) {
			if c.ICEServers == nil || len(c.ICEServers) != 0 {
				t.Errorf("got %#v, want an empty non-nil list", c.ICEServers)
			}
		}},
		{name: "ice server not json", args: []string{"--ice-servers", "stun:x"}, wantErr: true},
		{name: "ice server bad scheme", args: []string{"--ice-servers", `[{"urls":"http://x"}]`}, wantErr: true},
		{name: "turn without credential", args: []string{"--ice-servers", `[{"urls":"turn:x"}]`}, wantErr: true},
		{name: "ice server without urls", args: []string{"--ice-servers", `[{"username":"u"}]`}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(tc.args, env(tc.env))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if tc.check != nil && err == nil {
				tc.check(t, c)
			}
		})
	}
}

// FuzzParseICEServers: any input is an error or servers with valid URIs;
// never a panic.
func FuzzParseICEServers(f *testing.F) {
	for _, s := range []string{`[]`, `[{"urls":"stun:x"}]`, `[{"urls":["turn:x"],"username":"u","credential":"p"}]`, `{"urls":1}`, `[{"urls":[]}]`, `[null]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := ParseICEServers(s)
		if err != nil {
			return
		}
		for _, srv := range out {
			if len(srv.URLs) == 0 {
				t.Fatalf("%q: server without URLs", s)
			}
		}
	})
}

// TestParseTLS checks the HTTPS flags: files are read and matched at Parse,
// so a pod with a wrong certificate refuses to start, in plain words.
func TestParseTLS(t *testing.T) {
	t.Parallel()
	ca := testcert.NewCA(t)
	a := ca.Issue(t, "a", time.Time{}, "pod.example.org")
	b := ca.Issue(t, "b", time.Time{}, "other.example.org")
	dir := t.TempDir()
	unreadable := filepath.Join(dir, "unreadable.key")
	keyBytes, _ := os.ReadFile(a.KeyFile)
	if err := os.WriteFile(unreadable, keyBytes, 0o000); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "cert.der")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	canReadAnything := os.Geteuid() == 0 // root ignores file modes

	tests := []struct {
		name    string
		args    []string
		wantErr string // substring; "" for success
		check   func(t *testing.T, c Config)
	}{
		{name: "files give an https url", args: []string{"--listen", ":8443", "--tls-cert", a.CertFile, "--tls-key", a.KeyFile}, check: func(t *testing.T, c Config) {
			if c.URL != "https://localhost:8443" || !c.ServesTLS() || c.HTTPListen != "" {
				t.Errorf("got url %q tls %v http %q", c.URL, c.ServesTLS(), c.HTTPListen)
			}
		}},
		{name: "port 443 is left out", args: []string{"--listen", "pod.example.org:443", "--tls-cert", a.CertFile, "--tls-key", a.KeyFile}, check: func(t *testing.T, c Config) {
			if c.URL != "https://pod.example.org" {
				t.Errorf("url %q", c.URL)
			}
		}},
		{name: "acme defaults", args: []string{"--listen", ":443", "--acme-domain", "Pod.Example.org,www.example.org", "--hsts", "8760h"}, check: func(t *testing.T, c Config) {
			if c.URL != "https://pod.example.org" || c.HTTPListen != ":80" || len(c.ACMEDomains) != 2 || c.ACMEDomains[0] != "pod.example.org" || c.HSTS == 0 {
				t.Errorf("got %+v", c)
			}
		}},
		{name: "acme on another port", args: []string{"--listen", "127.0.0.1:0", "--acme-domain", "pod.example.org", "--http-listen", "127.0.0.1:0"}, check: func(t *testing.T, c Config) {
			if c.URL != "https://pod.example.org:0" || c.HTTPListen != "127.0.0.1:0" {
				t.Errorf("got %+v", c)
			}
		}},
		{name: "https url behind a proxy", args: []string{"--url", "https://pod.example.org", "--hsts", "1h"}, check: func(t *testing.T, c Config) {
			if c.ServesTLS() || c.HSTS.Hours() != 1 {
				t.Errorf("got %+v", c)
			}
		}},
		{name: "key without cert", args: []string{"--tls-key", a.KeyFile}, wantErr: "go together"},
		{name: "missing file", args: []string{"--tls-cert", filepath.Join(dir, "nope.pem"), "--tls-key", a.KeyFile}, wantErr: "--tls-cert: cannot read " + filepath.Join(dir, "nope.pem") + ": no such file or directory"},
		{name: "unreadable key", args: []string{"--tls-cert", a.CertFile, "--tls-key", unreadable}, wantErr: "--tls-key: cannot read " + unreadable + ": permission denied"},
		{name: "key is a directory", args: []string{"--tls-cert", a.CertFile, "--tls-key", dir}, wantErr: "--tls-key: cannot read " + dir + ": is a directory"},
		{name: "not PEM", args: []string{"--tls-cert", notPEM, "--tls-key", a.KeyFile}, wantErr: "is not a PEM certificate"},
		{name: "key and cert swapped", args: []string{"--tls-cert", a.KeyFile, "--tls-key", a.CertFile}, wantErr: "is not a PEM certificate"},
		{name: "key of another certificate", args: []string{"--tls-cert", a.CertFile, "--tls-key", b.KeyFile}, wantErr: "is not the key of the certificate in " + a.CertFile},
		{name: "files and acme", args: []string{"--tls-cert", a.CertFile, "--tls-key", a.KeyFile, "--acme-domain", "pod.example.org"}, wantErr: "exclude each other"},
		{name: "http url with own tls", args: []string{"--url", "http://pod.example.org", "--tls-cert", a.CertFile, "--tls-key", a.KeyFile}, wantErr: "starts with https://"},
		{name: "url not among acme domains", args: []string{"--url", "https://other.example.org", "--acme-domain", "pod.example.org"}, wantErr: "not one of --acme-domain"},
		{name: "acme domain with scheme", args: []string{"--acme-domain", "https://pod.example.org"}, wantErr: "want a host name"},
		{name: "acme ip", args: []string{"--acme-domain", "192.0.2.1"}, wantErr: "want a host name"},
		{name: "acme directory over http", args: []string{"--acme-domain", "pod.example.org", "--acme-directory", "http://ca.example/dir"}, wantErr: "want an https:// URL"},
		{name: "acme options without a domain", args: []string{"--acme-email", "me@example.org"}, wantErr: "need --acme-domain"},
		{name: "acme roots not PEM", args: []string{"--acme-domain", "pod.example.org", "--acme-ca-roots", notPEM}, wantErr: "holds no PEM certificate"},
		{name: "http listener without tls", args: []string{"--http-listen", ":80"}, wantErr: "needs --tls-cert or --acme-domain"},
		{name: "hsts over http", args: []string{"--hsts", "1h"}, wantErr: "--hsts needs an https://"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "unreadable key" && canReadAnything {
				t.Skip("running as root: file modes do not stop reading")
			}
			c, err := Parse(tc.args, func(string) string { return "" })
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
			if tc.check != nil && err == nil {
				tc.check(t, c)
			}
		})
	}
}

// TestBadValueWords: a flag or SWARMTUBE_ variable the flag package
// refuses is answered with what the flag wants, not strconv's or time's
// "parse error" (`swarmtube --seed-idle abc` said `invalid value "abc" for
// flag -seed-idle: parse error`).
func TestBadValueWords(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{args: []string{"--seed-idle", "abc"}, want: `--seed-idle "abc": want a duration such as 90s, 10m or 1h30m`},
		{args: []string{"--bt-port=x"}, want: `--bt-port "x": want a whole number`},
		{args: []string{"--bt-port", "99999999999999999999"}, want: `--bt-port "99999999999999999999": want a whole number`},
		{args: []string{"--open-tracker=maybe"}, want: `--open-tracker "maybe": want true or false`},
		{env: map[string]string{"SWARMTUBE_SEED_IDLE": "abc"}, want: `SWARMTUBE_SEED_IDLE="abc": want a duration such as 90s, 10m or 1h30m`},
		{env: map[string]string{"SWARMTUBE_OPEN_TRACKER": "yes"}, want: `SWARMTUBE_OPEN_TRACKER="yes": want true or false`},
	} {
		_, err := Parse(tc.args, func(k string) string { return tc.env[k] })
		if err == nil || err.Error() != tc.want {
			t.Errorf("Parse(%q, %v): %v, want %q", tc.args, tc.env, err, tc.want)
		}
	}
}
