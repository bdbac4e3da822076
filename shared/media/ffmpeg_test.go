package media

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

// TestFaststartRealClip rewrites a clip ffmpeg wrote with moov last and
// checks, with ffmpeg itself, that every decoded frame is unchanged.
func TestFaststartRealClip(t *testing.T) {
	ffmpeg := testenv.LookPath(t, "ffmpeg")
	dir := t.TempDir()
	in, data := testenv.MakeClip(t, testenv.Clip{Seconds: 2, Rate: 25, Audio: true})
	sniffed, err := Sniff(data[:min(len(data), SniffLen)])
	if err != nil || sniffed != MP4 {
		t.Fatalf("sniff: %v %v", sniffed, err)
	}
	var out bytes.Buffer
	rewritten, _, err := Faststart(&out, bytes.NewReader(data), int64(len(data)))
	if err != nil || !rewritten {
		t.Fatalf("faststart: rewritten=%v err=%v", rewritten, err)
	}
	checkFaststart(t, data, out.Bytes())
	outPath := filepath.Join(dir, "out.mp4")
	if err := os.WriteFile(outPath, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	want := run(t, ffmpeg, "-hide_banner", "-loglevel", "error", "-i", in, "-f", "framemd5", "-")
	got := run(t, ffmpeg, "-hide_banner", "-loglevel", "error", "-i", outPath, "-f", "framemd5", "-")
	if !bytes.Equal(got, want) || len(want) == 0 {
		t.Fatalf("decoded frames differ after faststart")
	}
	// A second pass finds nothing to move.
	var again bytes.Buffer
	if rewritten, _, err := Faststart(&again, bytes.NewReader(out.Bytes()), int64(out.Len())); err != nil || rewritten {
		t.Fatalf("second pass: rewritten=%v err=%v", rewritten, err)
	}
}

func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, stderr.String())
	}
	return out
}
