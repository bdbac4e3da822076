package clientlab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/swarmtube/swarmtube/internal/netlab"
	"github.com/swarmtube/swarmtube/internal/testenv"
)

// client is a desktop BitTorrent client driven headless.
type client struct {
	name string
	// check skips (or, in CI, fails) the test when the client is missing.
	check func(t *testing.T)
	// get downloads src (a .torrent path or a magnet URI) into dir on h and
	// returns the downloaded file's path; the client's log goes to
	// dir/<name>.log. It returns when the client says the download is
	// complete, or with ctx's error.
	get func(ctx context.Context, h *netlab.Host, src, dir, file string) (string, error)
}

var clients = []client{
	{name: "transmission", check: func(t *testing.T) {
		testenv.LookPath(t, "transmission-daemon")
		testenv.LookPath(t, "transmission-remote")
	}, get: transmission},
	{name: "libtorrent", check: checkLibtorrent, get: libtorrent},
	{name: "aria2", check: func(t *testing.T) { testenv.LookPath(t, "aria2c") }, get: aria2},
	{name: "rtorrent", check: func(t *testing.T) { testenv.LookPath(t, "rtorrent") }, get: rtorrent},
}

// transmission runs Transmission 3.00's engine headless,
// transmission-daemon, with its defaults (uTP on, encryption preferred),
// and adds src with transmission-remote. DHT, local peer discovery and port
// mapping are off: in the lab they only add waits. The torrent-done script
// marks completion, then SIGINT makes the daemon close its session, which
// flushes its cache to the file. (transmission-cli is no driver for
// magnets: its loop exits when it sees the torrent stopped, which a
// magnet is for a moment once its metadata has arrived.)
func transmission(ctx context.Context, h *netlab.Host, src, dir, file string) (string, error) {
	return runTransmission(ctx, h, src, dir, file, nil)
}

// transmissionWith is transmission with more settings.json members
// (e.g. "utp-enabled": false).
func transmissionWith(extra map[string]any) func(ctx context.Context, h *netlab.Host, src, dir, file string) (string, error) {
	return func(ctx context.Context, h *netlab.Host, src, dir, file string) (string, error) {
		return runTransmission(ctx, h, src, dir, file, extra)
	}
}

func runTransmission(ctx context.Context, h *netlab.Host, src, dir, file string, extra map[string]any) (string, error) {
	cfg, dl := filepath.Join(dir, "config"), filepath.Join(dir, "dl")
	for _, d := range []string{cfg, dl} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
	}
	done := filepath.Join(dir, "done")
	script := filepath.Join(dir, "finished.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\ntouch '"+done+"'\n"), 0o755); err != nil {
		return "", err
	}
	settings := map[string]any{
		"dht-enabled": false, "lpd-enabled": false, "port-forwarding-enabled": false,
		"message-level": 3, // debug: announces, peers, connections
		"download-dir":  dl,
		// RPC on the host's own loopback, for transmission-remote.
		"rpc-enabled": true, "rpc-bind-address": "127.0.0.1", "rpc-port": 9091,
		"rpc-authentication-required": false, "rpc-whitelist-enabled": false, "rpc-host-whitelist-enabled": false,
		"script-torrent-done-enabled": true, "script-torrent-done-filename": script,
	}
	for k, v := range extra {
		settings[k] = v
	}
	b, err := json.Marshal(settings)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(cfg, "settings.json"), b, 0o644); err != nil {
		return "", err
	}
	logf, err := os.Create(filepath.Join(dir, "transmission.log"))
	if err != nil {
		return "", err
	}
	defer logf.Close()
	cmd := h.Command(ctx, "transmission-daemon", "-f", "-g", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	add := func(ctx context.Context) error {
		// The RPC server comes up a moment after the daemon starts.
		var out []byte
		if testenv.Poll(ctx, func() bool {
			out, err = h.Command(ctx, "transmission-remote", "127.0.0.1:9091", "-a", src).CombinedOutput()
			return err == nil && strings.Contains(string(out), "success")
		}) {
			return nil
		}
		return fmt.Errorf("transmission-remote -a: %v: %s", err, out)
	}
	if err := untilDone(ctx, cmd, done, add); err != nil {
		return "", fmt.Errorf("transmission-daemon: %w", err)
	}
	return filepath.Join(dl, file), nil
}

// untilDone starts cmd, runs started (if not nil), and waits for the file
// done to appear, then stops cmd with SIGINT (clients close their session
// and flush on it) and waits for it to exit.
func untilDone(ctx context.Context, cmd *exec.Cmd, done string, started func(context.Context) error) error {
	// On timeout too: SIGINT lets the client flush its log (stdio buffers
	// a file fully); Command's WaitDelay kills it if it lingers.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if started != nil {
		if err := started(ctx); err != nil {
			cmd.Process.Signal(os.Interrupt)
			<-exited
			return err
		}
	}
	var exitErr error
	quit := false
	if !testenv.Poll(ctx, func() bool {
		select {
		case exitErr = <-exited:
			quit = true
			return true
		default:
		}
		_, err := os.Stat(done)
		return err == nil
	}) {
		quit, exitErr = true, <-exited // ctx's end interrupts cmd (cmd.Cancel)
	}
	if quit {
		return fmt.Errorf("exited before completing: %v", exitErr)
	}
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-exited:
	case <-ctx.Done():
	}
	return nil
}

// rtorrent runs rtorrent 0.9 (libtorrent by rakshasa, TCP only) without
// its curses interface (system.daemon), DHT, PEX and UDP trackers off; an
// event.download.finished handler marks completion.
func rtorrent(ctx context.Context, h *netlab.Host, src, dir, file string) (string, error) {
	dl, session := filepath.Join(dir, "dl"), filepath.Join(dir, "session")
	for _, d := range []string{dl, session} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
	}
	done := filepath.Join(dir, "done")
	rc := filepath.Join(dir, "rtorrent.rc")
	conf := fmt.Sprintf(`directory.default.set = %s
session.path.set = %s
dht.mode.set = disable
protocol.pex.set = no
trackers.use_udp.set = no
system.daemon.set = true
method.set_key = event.download.finished, clientlab_done, "execute.nothrow=touch,%s"
`, dl, session, done)
	if err := os.WriteFile(rc, []byte(conf), 0o644); err != nil {
		return "", err
	}
	logf, err := os.Create(filepath.Join(dir, "rtorrent.log"))
	if err != nil {
		return "", err
	}
	defer logf.Close()
	cmd := h.Command(ctx, "rtorrent", "-n", "-o", "import="+rc, "-o", "load.start="+src)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := untilDone(ctx, cmd, done, nil); err != nil {
		return "", fmt.Errorf("rtorrent: %w", err)
	}
	return filepath.Join(dl, file), nil
}

// python3 is the interpreter python3-libtorrent installs for.
const python3 = "/usr/bin/python3"

func checkLibtorrent(t *testing.T) {
	t.Helper()
	if err := exec.Command(python3, "-c", "import libtorrent").Run(); err != nil {
		if testenv.InCI() {
			t.Fatalf("python3-libtorrent: %v (run `make test` to install test dependencies)", err)
		}
		t.Skipf("python3-libtorrent not installed (%v); run `make test` to install test dependencies", err)
	}
}

// libtorrent runs testdata/lt_download.py: libtorrent-rasterbar with its
// defaults (TCP and uTP, encryption enabled).
func libtorrent(ctx context.Context, h *netlab.Host, src, dir, file string) (string, error) {
	return runLibtorrent(ctx, h, src, dir, file, "both")
}

// libtorrentOver is libtorrent with only one transport: "tcp" or "utp".
func libtorrentOver(transport string) func(ctx context.Context, h *netlab.Host, src, dir, file string) (string, error) {
	return func(ctx context.Context, h *netlab.Host, src, dir, file string) (string, error) {
		return runLibtorrent(ctx, h, src, dir, file, transport)
	}
}

func runLibtorrent(ctx context.Context, h *netlab.Host, src, dir, file, transport string) (string, error) {
	script, err := filepath.Abs(filepath.Join("testdata", "lt_download.py"))
	if err != nil {
		return "", err
	}
	dl := filepath.Join(dir, "dl")
	cmd := h.Command(ctx, python3, script, src, dl, "--transport", transport, "--timeout", fmt.Sprint(int(clientLimit.Seconds())))
	out, err := cmd.Output()
	os.WriteFile(filepath.Join(dir, "libtorrent.log"), out, 0o644)
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("lt_download.py: %v: %s", err, ee.Stderr)
		}
		return "", err
	}
	var res struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return "", fmt.Errorf("lt_download.py said %q: %v", out, err)
	}
	if !res.OK {
		return "", fmt.Errorf("libtorrent: %s", res.Error)
	}
	return filepath.Join(dl, file), nil
}

// aria2Flags keep aria2c to the tracker and the seeder, and make it exit
// once the download is complete.
var aria2Flags = []string{
	"--enable-dht=false", "--enable-dht6=false",
	"--bt-enable-lpd=false", "--enable-peer-exchange=false",
	"--seed-time=0", "--bt-save-metadata=false",
	"--file-allocation=none", "--disable-ipv6=true",
	"--summary-interval=0", "--console-log-level=warn",
	"--bt-tracker-connect-timeout=5", "--bt-tracker-timeout=5",
	"--no-conf=true",
}

// aria2 runs aria2c (TCP only).
func aria2(ctx context.Context, h *netlab.Host, src, dir, file string) (string, error) {
	dl := filepath.Join(dir, "dl")
	cmd := h.Command(ctx, "aria2c", append([]string{"--dir=" + dl}, append(aria2Flags, src)...)...)
	out, err := cmd.CombinedOutput()
	os.WriteFile(filepath.Join(dir, "aria2.log"), out, 0o644)
	if err != nil {
		return "", fmt.Errorf("aria2c: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return filepath.Join(dl, file), nil
}
