package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/config"
)

// TestDeployDocCommands checks the pod command lines of docs/deploy.md's
// systemd units: each parses with the pod's own flag parser, and the full
// unit passes `systemd-analyze verify` where systemd is installed.
func TestDeployDocCommands(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "docs", "deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)\n```ini\n(.*?)\n```\n").FindAllStringSubmatch(string(doc), -1)
	if len(blocks) != 2 {
		t.Fatalf("docs/deploy.md has %d ```ini blocks, want 2 (the unit, and its ExecStart behind a proxy)", len(blocks))
	}
	for _, b := range blocks {
		unit := b[1]
		line := regexp.MustCompile(`(?s)ExecStart=/usr/local/bin/swarmtube((?:[^\n]*\\\n)*[^\n]*)`).FindStringSubmatch(unit)
		if line == nil {
			t.Fatalf("no ExecStart in\n%s", unit)
		}
		args := strings.Fields(strings.ReplaceAll(line[1], "\\\n", " "))
		if _, err := config.Parse(args, func(string) string { return "" }); err != nil {
			t.Errorf("docs/deploy.md: swarmtube %s: %v", strings.Join(args, " "), err)
		}
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze not installed: the unit's syntax is not checked")
		return
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "swarmtube")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	unit := strings.Replace(blocks[0][1], "/usr/local/bin/swarmtube", bin, 1)
	file := filepath.Join(dir, "swarmtube.service")
	if err := os.WriteFile(file, []byte(unit+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(analyze, "verify", file).CombinedOutput(); err != nil || len(out) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
