package web

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

// TestEarlyBudget: what the watch page fetches from the web seed in its
// first request before the engine runs (engine.js earlyBudget, run in
// node): one second of media at the file's mean bitrate, in whole pieces,
// at least one piece, at most 1 MiB (sw.js EARLY_BUDGET) and the file;
// the whole 1 MiB when the bitrate is not known; the pod's copy of it
// (watch.go) gives the same. Issue 12: a fixed 1 MiB
// was 2 s of a 4 Mbit/s video and 5.6 s of a 1.5 Mbit/s one, all of it
// the pod's for every viewer, peers or not.
func TestEarlyBudget(t *testing.T) {
	const kib, mib = 1 << 10, 1 << 20
	cases := []struct {
		name        string
		length      int64
		duration    float64
		pieceLength int64
		want        int64
	}{
		{"4 Mbit/s, 33 s (offload benchmark): 509 KB/s in 256 KiB pieces", 16_800_000, 33, 256 * kib, 512 * kib},
		{"1.5 Mbit/s, 60 s (start-up benchmark): 187 KB/s, one piece", 11_250_000, 60, 256 * kib, 256 * kib},
		{"exactly two pieces a second", 60 * 512 * kib, 60, 256 * kib, 512 * kib},
		{"just over two pieces a second: three", 60*512*kib + 60, 60, 256 * kib, 768 * kib},
		{"8 Mbit/s: four pieces, the cap", 60_000_000, 60, 256 * kib, mib},
		{"20 Mbit/s: the cap", 150_000_000, 60, 256 * kib, mib},
		{"2 h at 4 Mbit/s, 1 MiB pieces: one piece", 3_582_700_000, 7200, mib, mib},
		{"pieces larger than the cap", 8_000_000_000, 3600, 2 * mib, mib},
		{"low bitrate: at least one piece", 100_000, 10, 16 * kib, 16 * kib},
		{"a file smaller than a piece", 1000, 1, 256 * kib, 1000},
		{"no piece length: 256 KiB units", 16_800_000, 33, 0, 512 * kib},
		{"no duration: the whole budget", 16_800_000, 0, 256 * kib, mib},
		{"no length: the whole budget", 0, 33, 256 * kib, mib},
		{"negative duration: the whole budget", 16_800_000, -1, 256 * kib, mib},
	}
	type meta struct {
		Length      int64   `json:"length"`
		Duration    float64 `json:"duration"`
		PieceLength int64   `json:"pieceLength"`
	}
	in := make([]meta, len(cases))
	for i, c := range cases {
		in[i] = meta{c.length, c.duration, c.pieceLength}
	}
	args, _ := json.Marshal(in)
	node := testenv.LookPath(t, "node")
	engine, _ := json.Marshal(filepath.Join(testenv.RepoRoot(t), "web", "static", "engine", "engine.js"))
	// engine.js imports messages.js, a worker script that sets self.SwarmtubeMessages.
	script := `globalThis.self = globalThis; const { earlyBudget } = await import(` + string(engine) + `);
console.log(JSON.stringify(` + string(args) + `.map(earlyBudget)));`
	out, err := exec.Command(node, "--input-type=module", "-e", script).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v: %s", err, out)
	}
	var got []int64
	if err := json.Unmarshal(out, &got); err != nil || len(got) != len(cases) {
		t.Fatalf("node output %q: %v", out, err)
	}
	for i, c := range cases {
		if got[i] != c.want {
			t.Errorf("%s: earlyBudget(%d bytes, %g s, %d) = %d, want %d", c.name, c.length, c.duration, c.pieceLength, got[i], c.want)
		}
		// The pod's copy (watch.go, the watch page's start URL).
		if g := earlyBudget(c.length, c.duration, c.pieceLength); g != c.want {
			t.Errorf("%s: Go earlyBudget(%d bytes, %g s, %d) = %d, want %d", c.name, c.length, c.duration, c.pieceLength, g, c.want)
		}
	}
}
