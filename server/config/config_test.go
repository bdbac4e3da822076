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
