package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swarmtube/swarmtube/server/accounts"
	"github.com/swarmtube/swarmtube/server/store"
)

// TestAdminFlagsAnywhere: `swarmtube admin` takes --data and --password
// before or after the command's arguments, as people type them; a trailing
// --data used to be read as a right or a surplus argument, and the command
// went to ./data. A refused right is named, in one sentence.
func TestAdminFlagsAnywhere(t *testing.T) {
	data := t.TempDir()
	st, err := store.Open(filepath.Join(data, "swarmtube.db"))
	if err != nil {
		t.Fatal(err)
	}
	acc, err := accounts.New(st, accounts.Config{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acc.Register(context.Background(), "alice", "correct horse", nil); err != nil {
		t.Fatal(err)
	}
	st.Close()
	t.Chdir(t.TempDir()) // no ./data here: a command that missed --data fails

	env := func(string) string { return "" }
	for _, tc := range []struct {
		args    []string
		out     string // in stdout, when it succeeds
		errText string // the whole error, when it fails
	}{
		{args: []string{"grant", "alice", "upload", "--data", data}, out: "alice now has: upload"},
		{args: []string{"revoke", "alice", "--data=" + data, "upload"}, out: "alice now has: no rights"},
		{args: []string{"reset-password", "alice", "--data", data, "--password", "a new password"}, out: "password of alice reset"},
		{args: []string{"users", "--data", data}, out: "alice"},
		{args: []string{"grant", "--data", data, "--", "alice", "upload"}, out: "alice now has: upload"},
		{args: []string{"grant", "alice", "superpower", "--data", data}, errText: `"superpower" is not a right: rights are upload and admin`},
		{args: []string{"grant", "--data", data, "alice", "superpower"}, errText: `"superpower" is not a right: rights are upload and admin`},
		{args: []string{"grant", "alice", "upload", "upload", "--data", data}, errText: `"upload" is named twice`},
		{args: []string{"reset-password", "alice", "bob", "--data", data}, errText: "usage: swarmtube admin reset-password [--data DIR] [--password P] USER"},
	} {
		var out bytes.Buffer
		err := runAdmin(tc.args, &out, env)
		switch {
		case tc.errText != "" && (err == nil || err.Error() != tc.errText):
			t.Errorf("admin %v: error %v, want %q", tc.args, err, tc.errText)
		case tc.errText == "" && err != nil:
			t.Errorf("admin %v: %v", tc.args, err)
		case tc.errText == "" && !strings.Contains(out.String(), tc.out):
			t.Errorf("admin %v printed %q, want %q in it", tc.args, out.String(), tc.out)
		}
	}
}

// TestImportFlagsAfterFile: `swarmtube import clip.mp4 --name N --pod URL`
// reads its flags after the file too (it answered "give exactly one video
// file"); a pod URL that is not http(s) is refused before any request.
func TestImportFlagsAfterFile(t *testing.T) {
	err := runImport([]string{"clip.mp4", "--name", "x", "--pod", "ftp://pod.example"})
	if err == nil || err.Error() != `import: --pod "ftp://pod.example" is not an http(s) URL` {
		t.Fatalf("import with flags after the file: %v", err)
	}
}

// TestImportErrorSaysImportOnce: the binary names the command once
// (it printed "swarmtube import: import: log in as admin: …").
func TestImportErrorSaysImportOnce(t *testing.T) {
	out, err := exec.Command(binary(t), "import", "--pod", "ftp://pod.example", "--name", "x", "clip.mp4").CombinedOutput()
	want := "swarmtube: import: --pod \"ftp://pod.example\" is not an http(s) URL\n"
	if err == nil || string(out) != want {
		t.Fatalf("import: %v, printed %q, want %q", err, out, want)
	}
}

// TestImportUnreachablePodInWords: a pod that cannot be reached is said so
// in words, not as Go's `Post "…": dial tcp 127.0.0.1:1: connect: …`.
func TestImportUnreachablePodInWords(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	clip := filepath.Join(t.TempDir(), "clip.mp4")
	if err := os.WriteFile(clip, []byte("not read"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = importVideo(context.Background(), http.DefaultClient, importOptions{Pod: "http://" + addr, User: "admin", Password: "x", Name: "x", File: clip})
	want := "import: log in as admin: cannot reach the pod: it refused the connection (nothing listens there)"
	if err == nil || err.Error() != want {
		t.Fatalf("import to a closed port: %v, want %q", err, want)
	}
}
