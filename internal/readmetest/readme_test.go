package readmetest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

// shellBlock returns the first ```sh block after the heading line that
// starts with heading.
func shellBlock(t *testing.T, readme, heading string) string {
	t.Helper()
	i := strings.Index(readme, "\n"+heading)
	if i < 0 {
		t.Fatalf("README has no heading %q", heading)
	}
	rest := readme[i:]
	start := strings.Index(rest, "\n```sh\n")
	if start < 0 {
		t.Fatalf("no sh block after %q", heading)
	}
	rest = rest[start+len("\n```sh\n"):]
	end := strings.Index(rest, "\n```")
	if end < 0 {
		t.Fatalf("unterminated sh block after %q", heading)
	}
	return rest[:end+1]
}

// privateNet runs script with sh in a new network namespace (only its own
// loopback), so the README's fixed ports (9000–9003) are free and nothing
// leaves the test. It needs root, as the network labs do.
func privateNet(t *testing.T, dir, script string, timeout time.Duration) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "--net", "--", "sh", "-c", "ip link set lo up && "+script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOPROXY=off") // the module cache has what the build needs
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	return out.String(), err
}

func needNamespaces(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if testenv.InCI() {
			t.Fatal("the README walk-through test needs root for its network namespace")
		}
		t.Skip("needs root for a network namespace")
	}
	for _, tool := range []string{"unshare", "ip", "curl", "ffmpeg", "jq"} {
		testenv.LookPath(t, tool)
	}
}

// repoCopy is a directory that looks like the repository (each top-level
// entry a symlink to the real one) with its own bin/ and data/, so the
// README's scripts build and run there without touching the checkout.
func repoCopy(t *testing.T) string {
	t.Helper()
	root := testenv.RepoRoot(t)
	dir := t.TempDir()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		switch e.Name() {
		case "bin", "data", ".git":
			continue
		}
		if err := os.Symlink(filepath.Join(root, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestThreePodsWalkthrough runs the README's "Three pods on one machine":
// scripts/run_servers.sh, then the block as written, with only step 5's
// "<id>" placeholder filled in (the id of step 3's video on 9003). Step 4
// must show the video on 9001 and find it on 9002 (issue 17 item 16: it
// came back empty when run right after step 3), and step 5 must remove it
// everywhere.
func TestThreePodsWalkthrough(t *testing.T) {
	needNamespaces(t)
	readme, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	block := shellBlock(t, string(readme), "### Three pods on one machine")
	if strings.Count(block, "/api/v1/videos/<id>") != 1 {
		t.Fatalf("step 5 should have one <id> placeholder in its URL:\n%s", block)
	}
	block = strings.Replace(block, "/api/v1/videos/<id>", "/api/v1/videos/"+
		`$(curl -s localhost:9003/api/v1/videos | jq -r '.data[0].id')`, 1)
	dir := repoCopy(t)
	work := t.TempDir()
	// The harness: start the pods as the README says, wait for them, run
	// the block in its own shell (set -e: a failing command fails the
	// walk-through), then check what step 5 promises, and stop the pods.
	script := `set -u
scripts/run_servers.sh >` + work + `/servers.log 2>&1 &
servers=$!
i=0
until grep -q "Ctrl-C stops the pods" ` + work + `/servers.log; do
  i=$((i + 1))
  if [ $i -gt 1200 ] || ! kill -0 $servers 2>/dev/null; then echo "run_servers did not start"; cat ` + work + `/servers.log; exit 1; fi
  sleep 0.25
done
cd ` + work + `
echo "=== walk-through"
sh -e ./walkthrough.sh; rc=$?
echo "=== exit $rc"
echo "=== after step 5"
for p in 9001 9002 9003; do
  i=0
  until curl -s localhost:$p/api/v1/videos | grep -q '"total":0'; do
    i=$((i + 1)); if [ $i -gt 150 ]; then break; fi; sleep 0.2
  done
  echo "$p: $(curl -s localhost:$p/api/v1/videos)"
done
kill -TERM $servers; wait $servers
exit $rc
`
	if err := os.WriteFile(filepath.Join(work, "walkthrough.sh"), []byte(block), 0o644); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	out, err := privateNet(t, dir, script, 4*time.Minute)
	t.Logf("the walk-through took %s", time.Since(begin).Round(time.Second))
	t.Logf("output:\n%s", out)
	if err != nil {
		t.Fatalf("the walk-through failed: %v", err)
	}
	// The logs are where the README says (issue 17 item 18: it named
	// files run_servers.sh never wrote).
	intro := string(readme)[strings.Index(string(readme), "\n### Three pods on one machine"):]
	intro = intro[:strings.Index(intro, "```sh")]
	logs := regexp.MustCompile(`pod\d+\.log`).FindAllString(intro, -1)
	if len(logs) != 3 {
		t.Errorf("the README names %d log files of the three pods: %q", len(logs), logs)
	}
	for _, name := range logs {
		if fi, err := os.Stat(filepath.Join(dir, "data", name)); err != nil || fi.Size() == 0 {
			t.Errorf("the README's log ./data/%s: %v", name, err)
		}
	}
	walk, after, _ := strings.Cut(out, "=== after step 5")
	// Step 2: all three are friends of each other.
	if n := strings.Count(walk, `"status":"active"`); n < 2 {
		t.Errorf("step 2: 9001 lists %d active friends, want 2", n)
	}
	// Step 4: 9001 lists the video from 9003, and 9002's search finds it.
	step4 := regexp.MustCompile(`"total":1,"data":\[\{"id":"[a-z2-7]+","name":"Élan vital"`)
	if n := len(step4.FindAllString(walk, -1)); n < 2 {
		t.Errorf("step 4: the video shows %d times on 9001 and in 9002's search, want 2", n)
	}
	if !strings.Contains(walk, `"pod":"http://localhost:9003"`) || !strings.Contains(walk, `"local":false`) {
		t.Error("step 4: 9001 does not list the video as 9003's")
	}
	// Step 5: gone everywhere.
	for _, p := range []string{"9001", "9002", "9003"} {
		if !strings.Contains(after, p+`: {"total":0,"data":[]}`) {
			t.Errorf("step 5: the video is still listed on %s", p)
		}
	}
}

// TestAPIQuickStart runs the README's API quick start ("## The API") as
// written, against a pod started as the README's "Two commands" start it:
// `make run` (with the wasm taken as built, `make -o wasm run`: the API
// does not need the browser peer), on localhost:9000 with a fresh ./data.
// The one placeholder, "<admin password>", is filled in as a host does:
// with the random password the pod logs once at its first start. Each
// command's answer must be what the block promises: the pod info, alice
// registered, her token accepted by /users/me, and the admin's grant of
// the upload right.
func TestAPIQuickStart(t *testing.T) {
	needNamespaces(t)
	testenv.LookPath(t, "make")
	readme, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	block := shellBlock(t, string(readme), "## The API")
	if strings.Count(block, "<admin password>") != 1 {
		t.Fatalf("the quick start should have one <admin password> placeholder:\n%s", block)
	}
	dir := repoCopy(t)
	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "quickstart.sh"), []byte(block), 0o644); err != nil {
		t.Fatal(err)
	}
	script := `set -u
make -o wasm run >` + work + `/pod.log 2>&1 &
pod=$!
i=0
until grep -q "pod listening" ` + work + `/pod.log; do
  i=$((i + 1))
  if [ $i -gt 1200 ] || ! kill -0 $pod 2>/dev/null; then echo "make run did not start a pod"; cat ` + work + `/pod.log; exit 1; fi
  sleep 0.25
done
PW=$(sed -n 's/.*msg="created the admin account.*password=\([A-Za-z0-9_-]*\).*/\1/p' ` + work + `/pod.log | head -n 1)
if [ -z "$PW" ]; then echo "no admin password in the log"; cat ` + work + `/pod.log; kill -TERM $pod; exit 1; fi
cd ` + work + `
sed "s|<admin password>|$PW|" quickstart.sh > run.sh
echo "=== quick start"
sh -e ./run.sh; rc=$?
echo
echo "=== exit $rc"
pkill -TERM -P $pod; kill -TERM $pod; wait $pod
exit $rc
`
	begin := time.Now()
	out, err := privateNet(t, dir, script, 4*time.Minute)
	t.Logf("the quick start took %s", time.Since(begin).Round(time.Second))
	t.Logf("output:\n%s", out)
	if err != nil {
		t.Fatalf("the quick start failed: %v", err)
	}
	_, answers, _ := strings.Cut(out, "=== quick start")
	pod := regexp.MustCompile(`(?m)^\{"name":"[^"]+","url":"http://localhost:9000","software_version":"[^"]*","api_versions":\["v1"\]`)
	alice := regexp.MustCompile(`(?m)^\{"username":"alice","rights":\[\]`)
	granted := regexp.MustCompile(`(?m)^\{"username":"alice","rights":\["upload"\]`)
	if !pod.MatchString(answers) {
		t.Error("GET /api/v1/pod did not answer the pod info")
	}
	// Registration answers alice, and so does /users/me with her token.
	if n := len(alice.FindAllString(answers, -1)); n != 2 {
		t.Errorf("alice without rights answered %d times, want 2 (registration, /users/me)", n)
	}
	if !granted.MatchString(answers) {
		t.Error("the admin's grant did not answer alice with the upload right")
	}
	if strings.Contains(answers, `"error":`) {
		t.Errorf("a step of the quick start was refused:\n%s", answers)
	}
}

// TestMakeRunElsewhere checks the README's `make run LISTEN=… DATA=…`
// example against what make would run (make -n: nothing is built or
// started): the pod listens and keeps its data where asked, its URL
// follows, and its STUN/TURN port is the one the README names (issue 17
// item 18: the README did not mention LISTEN and DATA).
func TestMakeRunElsewhere(t *testing.T) {
	testenv.LookPath(t, "make")
	root := testenv.RepoRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("`make run LISTEN=([0-9.]+):([0-9]+) DATA=([^` ]+)` \\(its STUN/TURN port follows: ([0-9]+) there").FindStringSubmatch(string(readme))
	if m == nil {
		t.Fatal("the README no longer gives a `make run LISTEN=… DATA=…` example with its TURN port")
	}
	host, port, data, turn := m[1], m[2], m[3], m[4]
	cmd := exec.Command("make", "-n", "-o", "wasm", "-o", "server", "run", "LISTEN="+host+":"+port, "DATA="+data)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n run: %v\n%s", err, out)
	}
	for _, want := range []string{"--listen " + host + ":" + port, "--url http://localhost:" + port, "--data " + data, "--turn-listen " + host + ":" + turn} {
		if !strings.Contains(string(out), want) {
			t.Errorf("make run with the README's LISTEN and DATA runs\n%s\nwithout %q", out, want)
		}
	}
}
