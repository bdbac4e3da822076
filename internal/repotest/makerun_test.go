package repotest

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

// TestMakeRunTurnPort: `make run LISTEN=…` gives the pod a STUN/TURN
// address on LISTEN's host, its port 5522 below the HTTP port, for every
// form of address --listen takes. The Makefile split LISTEN at its first
// colon: ":9100" got --turn-listen "9100:3578" and "[::1]:9100" got "[:3578".
func TestMakeRunTurnPort(t *testing.T) {
	testenv.LookPath(t, "make")
	root := testenv.RepoRoot(t)
	for listen, want := range map[string]string{
		"127.0.0.1:9000": "127.0.0.1:3478",
		":9100":          ":3578",
		"0.0.0.0:9100":   "0.0.0.0:3578",
		"[::1]:9100":     "[::1]:3578",
		"localhost:9200": "localhost:3678",
	} {
		cmd := exec.Command("make", "-s", "-n", "run", "LISTEN="+listen)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make -n run LISTEN=%s: %v\n%s", listen, err, out)
		}
		got := ""
		if _, after, ok := strings.Cut(string(out), "--turn-listen "); ok {
			got, _, _ = strings.Cut(strings.TrimSpace(after), " ")
		}
		if got != want {
			t.Errorf("make run LISTEN=%s: --turn-listen %q, want %q\n%s", listen, got, want, out)
		}
	}
}
