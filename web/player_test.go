package web

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

// TestPickAuto runs the watch page's Auto quality choice (player.js
// pickAuto) in node: the smallest file covering the player's size in
// device pixels, lowered to what the measured throughput carries.
func TestPickAuto(t *testing.T) {
	t.Parallel()
	node := testenv.LookPath(t, "node")
	player := filepath.Join(testenv.RepoRoot(t), "web", "static", "js", "player.js")
	// 10 s of video: bitrates 100, 50, 30 and 15 kB/s.
	land := `[{"resolution":720,"width":1280,"height":720,"size":1000000},{"resolution":480,"width":852,"height":480,"size":500000},
		{"resolution":360,"width":640,"height":360,"size":300000},{"resolution":240,"width":426,"height":240,"size":150000}]`
	vert := `[{"resolution":720,"width":720,"height":1280,"size":1000000},{"resolution":480,"width":480,"height":852,"size":500000},
		{"resolution":240,"width":240,"height":426,"size":150000}]`
	cases := []struct {
		name, files, view string
		throughput        float64
		want              int
	}{
		{"fills a 720p player", land, `{"width":1280,"height":720,"dpr":1}`, 0, 720},
		{"a 360p player", land, `{"width":640,"height":360,"dpr":1}`, 0, 360},
		{"a 360p player at 2 device pixels per pixel", land, `{"width":640,"height":360,"dpr":2}`, 0, 720},
		{"10% over 360p", land, `{"width":747,"height":420,"dpr":1}`, 0, 480},
		{"within 10% of 360p", land, `{"width":700,"height":394,"dpr":1}`, 0, 360},
		{"a 240p player", land, `{"width":427,"height":240,"dpr":1}`, 0, 240},
		{"a tiny player", land, `{"width":100,"height":56,"dpr":1}`, 0, 240},
		{"throughput for 360p", land, `{"width":1280,"height":720,"dpr":1}`, 40000, 360},
		{"throughput for none", land, `{"width":1280,"height":720,"dpr":1}`, 1000, 240},
		{"throughput for all", land, `{"width":1280,"height":720,"dpr":1}`, 1e9, 720},
		{"vertical video in a 16:9 player", vert, `{"width":640,"height":360,"dpr":1}`, 0, 240},
		{"vertical video in a tall player", vert, `{"width":720,"height":1280,"dpr":1}`, 0, 720},
		{"one file", `[{"resolution":0,"size":5}]`, `{"width":1280,"height":720,"dpr":1}`, 1, 0},
	}
	// The same table for engine/start.js's copy, which picks the file a
	// first visit's <video> starts on before any module runs.
	start, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "web", "static", "engine", "start.js"))
	if err != nil {
		t.Fatal(err)
	}
	for _, impl := range []struct{ name, prelude, fn string }{
		{"player.js", `const { pickAuto } = await import(` + jsString(player) + `);`, "pickAuto"},
		{"start.js", "globalThis.self = globalThis;\n" + string(start), "self.swarmtubePickAuto"},
	} {
		var calls []string
		for _, c := range cases {
			b, _ := json.Marshal(c.throughput)
			calls = append(calls, impl.fn+"("+c.files+", "+c.view+", "+string(b)+", 10).resolution")
		}
		script := impl.prelude + "\nconsole.log(JSON.stringify([" + strings.Join(calls, ",") + "]));"
		out, err := exec.Command(node, "--input-type=module", "-e", script).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: node: %v: %s", impl.name, err, out)
		}
		var got []int
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%s: node output %q: %v", impl.name, out, err)
		}
		for i, c := range cases {
			if got[i] != c.want {
				t.Errorf("%s: %s: picks %dp, want %dp", impl.name, c.name, got[i], c.want)
			}
		}
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
