package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/internal/testcert"
	"github.com/swarmtube/swarmtube/internal/testenv"
)

// binary builds the swarmtube command once for the package's tests. Its
// directory is world-readable so the test can run it as another user.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the swarmtube binary")
	}
	return testenv.PodBinary(t)
}

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.RemoveBuilt()
	os.Exit(code)
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// holdPort listens on a free loopback port until the test ends.
func holdPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// startPod runs a pod on data until the test ends and returns its process.
func startPod(t *testing.T, bin, data string) *exec.Cmd {
	t.Helper()
	cmd, _ := startPodAt(t, bin, data)
	return cmd
}

// startPodAt is startPod that also returns the pod's base URL.
func startPodAt(t *testing.T, bin, data string) (*exec.Cmd, string) {
	t.Helper()
	addr := "127.0.0.1:" + freePort(t)
	cmd := exec.Command(bin, "--listen", addr, "--data", data, "--admin-password", "admin-password", "--log-level", "warn", "--turn-listen", "off")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			t.Logf("holder pod's output:\n%s", out.String())
		}
	})
	testenv.Eventually(t, 60*time.Second, "the holder pod to come up", func() bool {
		resp, err := http.Get("http://" + addr + "/api/v1/pod")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	return cmd, "http://" + addr
}

// TestStartupFailures is issue 15's acceptance: the real binary, started
// in each way a pod host can get wrong, exits non-zero with one line that
// names the cause, and never panics.
func TestStartupFailures(t *testing.T) {
	bin := binary(t)
	type setup struct {
		args []string
		cred *syscall.Credential // run as this user
		want []string            // substrings of the message
	}
	cases := []struct {
		name     string
		setup    func(t *testing.T) setup
		wantCode int
	}{
		{"data is a file", func(t *testing.T) setup {
			f := filepath.Join(t.TempDir(), "data")
			os.WriteFile(f, []byte("x"), 0o600)
			return setup{args: []string{"--data", f}, want: []string{"data directory " + f + " is a file"}}
		}, 1},
		{"data under a file", func(t *testing.T) setup {
			f := filepath.Join(t.TempDir(), "data")
			os.WriteFile(f, []byte("x"), 0o600)
			return setup{args: []string{"--data", filepath.Join(f, "pod")}, want: []string{f + " is a file"}}
		}, 1},
		{"data dir held by a running pod", func(t *testing.T) setup {
			data := t.TempDir()
			holder := startPod(t, bin, data)
			return setup{args: []string{"--data", data},
				want: []string{"data directory " + data + " is in use by another swarmtube process (pid " + strconv.Itoa(holder.Process.Pid) + ")"}}
		}, 1},
		{"listen port in use", func(t *testing.T) setup {
			port := holdPort(t)
			return setup{args: []string{"--data", t.TempDir(), "--listen", "127.0.0.1:" + port},
				want: []string{"port " + port + " is already in use", "--listen"}}
		}, 1},
		{"bt port in use", func(t *testing.T) setup {
			port := holdPort(t)
			return setup{args: []string{"--data", t.TempDir(), "--bt-port", port},
				want: []string{"port " + port + " is already in use", "--bt-port"}}
		}, 1},
		{"turn port in use", func(t *testing.T) setup {
			port := holdPort(t)
			pc, err := net.ListenPacket("udp", "127.0.0.1:"+port)
			if err == nil {
				t.Cleanup(func() { pc.Close() })
			}
			return setup{args: []string{"--data", t.TempDir(), "--turn-listen", "127.0.0.1:" + port},
				want: []string{"port " + port + " is already in use", "--turn-listen"}}
		}, 1},
		{"unwritable data dir", func(t *testing.T) setup {
			// Root writes through any mode bits, so as root the pod runs as
			// nobody; either way the directory is not writable by the
			// pod's user, which is the case a host meets.
			parent := t.TempDir()
			os.Chmod(parent, 0o755)
			os.Chmod(filepath.Dir(parent), 0o755)
			data := filepath.Join(parent, "ro")
			os.Mkdir(data, 0o555)
			s := setup{args: []string{"--data", data}, want: []string{"data directory " + data + " is not writable"}}
			if os.Geteuid() == 0 {
				s.cred = &syscall.Credential{Uid: 65534, Gid: 65534}
			}
			return s
		}, 1},
		{"unreadable store file", func(t *testing.T) setup {
			// The directory is the pod's, but the database in it is not
			// (restored by root from a backup, say).
			parent := t.TempDir()
			os.Chmod(parent, 0o755)
			os.Chmod(filepath.Dir(parent), 0o755)
			data := filepath.Join(parent, "data")
			os.Mkdir(data, 0o777)
			os.Chmod(data, 0o777)
			db := filepath.Join(data, "swarmtube.db")
			os.WriteFile(db, nil, 0o600)
			s := setup{args: []string{"--data", data}, want: []string{"cannot open " + db, "permission denied", "must be able to read and write the data directory"}}
			if os.Geteuid() == 0 {
				s.cred = &syscall.Credential{Uid: 65534, Gid: 65534}
			} else {
				os.Chmod(db, 0)
			}
			return s
		}, 1},
		{"malformed url", func(t *testing.T) setup {
			return setup{args: []string{"--data", t.TempDir(), "--url", "http//pod.example"}, want: []string{"--url", "http//pod.example"}}
		}, 2},
		{"url with path", func(t *testing.T) setup {
			return setup{args: []string{"--data", t.TempDir(), "--url", "https://pod.example/videos"}, want: []string{"--url"}}
		}, 2},
		{"negative size", func(t *testing.T) setup {
			return setup{args: []string{"--data", t.TempDir(), "--max-upload-mb", "-5"}, want: []string{"--max-upload-mb"}}
		}, 2},
		{"unknown right", func(t *testing.T) setup {
			return setup{args: []string{"--data", t.TempDir(), "--default-rights", "upload,root"}, want: []string{"unknown right", "root"}}
		}, 2},
		{"bad listen", func(t *testing.T) setup {
			return setup{args: []string{"--data", t.TempDir(), "--listen", "9000"}, want: []string{"--listen"}}
		}, 2},
		{"unreadable certificate", func(t *testing.T) setup {
			dir := t.TempDir()
			cert := filepath.Join(dir, "cert.pem")
			os.WriteFile(cert, []byte("-----BEGIN CERTIFICATE-----\n"), 0o600)
			s := setup{args: []string{"--data", t.TempDir(), "--tls-cert", cert, "--tls-key", filepath.Join(dir, "key.pem")},
				want: []string{"--tls-cert: cannot read " + cert}}
			// Unreadable by the pod's user: as root, the pod runs as nobody
			// (the file is root's, mode 0600); otherwise the file has mode 0.
			os.Chmod(dir, 0o755)
			os.Chmod(filepath.Dir(dir), 0o755)
			// Flags are checked before the data directory is touched, so
			// it does not matter that nobody cannot write --data.
			if os.Geteuid() == 0 {
				s.cred = &syscall.Credential{Uid: 65534, Gid: 65534}
			} else {
				os.Chmod(cert, 0)
			}
			return s
		}, 2},
		{"missing key file", func(t *testing.T) setup {
			return setup{args: []string{"--data", t.TempDir(), "--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"},
				want: []string{"--tls-cert", "/nonexistent/cert.pem", "no such file"}}
		}, 2},
		{"tls key of another certificate", func(t *testing.T) setup {
			ca := testcert.NewCA(t)
			a, b := ca.Issue(t, "a", time.Time{}, "pod.example.org"), ca.Issue(t, "b", time.Time{}, "pod.example.org")
			return setup{args: []string{"--data", t.TempDir(), "--tls-cert", a.CertFile, "--tls-key", b.KeyFile},
				want: []string{"--tls-key", b.KeyFile, "is not the key of the certificate in " + a.CertFile}}
		}, 2},
		{"http-listen port in use", func(t *testing.T) setup {
			ca := testcert.NewCA(t)
			a := ca.Issue(t, "a", time.Time{}, "127.0.0.1")
			port := holdPort(t)
			return setup{args: []string{"--data", t.TempDir(), "--tls-cert", a.CertFile, "--tls-key", a.KeyFile, "--http-listen", "127.0.0.1:" + port},
				want: []string{"port " + port + " is already in use", "--http-listen"}}
		}, 1},
		{"bad trusted proxy", func(t *testing.T) setup {
			return setup{args: []string{"--data", t.TempDir(), "--trusted-proxies", "proxy.example"}, want: []string{"--trusted-proxies", "proxy.example"}}
		}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.setup(t)
			args := s.args
			if !hasFlag(args, "--listen") {
				args = append(args, "--listen", "127.0.0.1:0")
			}
			if !hasFlag(args, "--turn-listen") {
				args = append(args, "--turn-listen", "off") // tests share the machine's default TURN port
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, append(args, "--admin-password", "admin-password")...)
			if s.cred != nil {
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
			}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if ctx.Err() != nil {
				t.Fatalf("still running after 60 s (a lock wait that never ends?)\n%s", stderr.String())
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("exit: %v, want status %d\n%s", err, tc.wantCode, stderr.String())
			}
			out := stdout.String() + stderr.String()
			if code := ee.ExitCode(); code != tc.wantCode {
				t.Errorf("exit status %d, want %d", code, tc.wantCode)
			}
			if strings.Contains(strings.ToLower(out), "panic") || strings.Contains(out, "goroutine ") {
				t.Errorf("output shows a panic:\n%s", out)
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "swarmtube: ") {
				t.Errorf("last line %q is not the plain error line", last)
			}
			for _, w := range s.want {
				if !strings.Contains(last, w) {
					t.Errorf("message %q does not say %q", last, w)
				}
			}
		})
	}
}

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

// TestHelp: --help is an answer, not an error, and names every subcommand
// (issue 17 item 15).
func TestHelp(t *testing.T) {
	bin := binary(t)
	for _, args := range [][]string{{"--help"}, {"-h"}, {"import", "--help"}} {
		cmd := exec.Command(bin, args...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%v: %v\n%s", args, err, out)
		}
		if bytes.Contains(out, []byte("help requested")) {
			t.Errorf("%v ends with flag's %q:\n%s", args, "help requested", out)
		}
		if !bytes.Contains(out, []byte("usage")) {
			t.Errorf("%v prints no usage:\n%s", args, out)
		}
	}
	out, _ := exec.Command(bin, "--help").CombinedOutput()
	for _, want := range []string{"swarmtube import", "swarmtube admin", "--listen", "--trusted-proxies"} {
		if !bytes.Contains(out, []byte(strings.TrimPrefix(want, "-"))) {
			t.Errorf("--help does not mention %s:\n%s", want, out)
		}
	}
}
