package config

import (
	"testing"
)

func TestParse(t *testing.T) {
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
		{name: "turn defaults", check: func(t *testing.T, c Config) {
			if c.TURN.Listen != ":3478" || c.TURN.MaxMbps != 50 || c.TURN.PublicIP != nil || c.ICEServers != nil {
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
