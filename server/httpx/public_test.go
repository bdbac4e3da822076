package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

var internals = regexp.MustCompile(`(?i)(/tmp/|\.go:\d|dial tcp|127\.0\.0\.1|connect:|no such file|no space left|` +
	`at \d+ has size|lookup |x509|invalid character)`)

// realErrors makes the errors the pod meets when it calls out or writes:
// a dial to a closed port, an unknown host, a timeout, a missing file, a
// full disk, a JSON decoder's complaint.
func realErrors(t *testing.T) map[string]error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	_, refused := http.Get("http://" + closed + "/api/v1/pod")
	// As net.Resolver reports it (no query is sent: no traffic off loopback).
	unknownHost := &net.DNSError{Err: "no such host", Name: "pod.invalid", Server: "10.0.0.1:53", IsNotFound: true}
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()
	_, timeout := (&http.Client{Timeout: 50 * time.Millisecond}).Get(hang.URL)
	_, missing := os.Open(filepath.Join(t.TempDir(), "uploads", "x"))
	var syntax any
	badJSON := json.Unmarshal([]byte("{x"), &syntax)
	return map[string]error{
		"refused":      fmt.Errorf("cannot read its pod info: %w", refused),
		"unknown host": fmt.Errorf("cannot read its pod info: %w", unknownHost),
		"timeout":      fmt.Errorf("hello: %w", timeout),
		"missing file": fmt.Errorf("videos: open upload: %w", missing),
		"full disk":    fmt.Errorf("videos: write: %w", &os.PathError{Op: "write", Path: "/data/uploads/abc", Err: syscall.ENOSPC}),
		"bad json":     fmt.Errorf("its pod info is invalid: %w", badJSON),
		"joined":       errors.Join(refused, missing),
	}
}

func TestPublic(t *testing.T) {
	errs := realErrors(t)
	for _, tc := range []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"client error", Errorf(400, "bad", "bad input"), 400, "bad"},
		{"client error with a cause", ErrForbidden.Because(errs["missing file"]), 403, "forbidden"},
		{"wrapped client error", fmt.Errorf("x: %w", ErrNotFound), 404, "not_found"},
		{"body too large", fmt.Errorf("read: %w", &http.MaxBytesError{Limit: 10}), 413, "too_large"},
		{"full disk", errs["full disk"], 507, "insufficient_storage"},
		{"full disk under a 500", ErrInternal.Because(errs["full disk"]), 500, "internal"},
		{"cancelled", fmt.Errorf("x: %w", context.Canceled), 503, "unavailable"},
		{"dial error", errs["refused"], 500, "internal"},
		{"missing file", errs["missing file"], 500, "internal"},
		{"nil", nil, 500, "internal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			he := Public(tc.err)
			if he.Status != tc.status || he.Code != tc.code || he.Cause != nil {
				t.Fatalf("Public = %+v, want %d %s and no cause", he, tc.status, tc.code)
			}
			if m := internals.FindString(he.Message); m != "" {
				t.Errorf("message shows %q: %s", m, he.Message)
			}
		})
	}
}

func TestUserText(t *testing.T) {
	errs := realErrors(t)
	for name, want := range map[string]string{
		"refused":      "cannot read its pod info: it refused the connection",
		"unknown host": "cannot read its pod info: its host name could not be resolved",
		"timeout":      "hello: it did not answer in time",
		"missing file": "videos: open upload: a file operation on this pod failed",
		"full disk":    "videos: write: the pod has no room",
		"bad json":     "its pod info is invalid: its answer is not the JSON",
		"joined":       "it refused the connection (nothing listens there); a file operation",
	} {
		t.Run(name, func(t *testing.T) {
			got := UserText(errs[name])
			if !strings.HasPrefix(got, want) {
				t.Errorf("UserText = %q, want it to start with %q (error: %v)", got, want, errs[name])
			}
			if m := internals.FindString(got); m != "" {
				t.Errorf("UserText shows %q: %s", m, got)
			}
		})
	}
	if got := UserText(fmt.Errorf("no common API version: a speaks [v9]")); got != "no common API version: a speaks [v9]" {
		t.Errorf("the pod's own words: %q", got)
	}
	// A sentinel with its detail after it gives the detail, not the
	// package's name for the sentinel (makefriends once answered
	// "fedproto: invalid message: ... is not a pod URL").
	sentinel := errors.New("fedproto: invalid message")
	if got := UserText(fmt.Errorf("%w: %q is not a pod URL", sentinel, "file:///x")); got != `"file:///x" is not a pod URL` {
		t.Errorf("sentinel with detail: %q", got)
	}
	// A leaf (a sentinel) loses the Go package name before it (an unsigned
	// federation request was answered "fedproto: request is not signed").
	for err, want := range map[error]string{
		errors.New("fedproto: request is not signed"):                          "request is not signed",
		fmt.Errorf("cannot read its pod info: %w", errors.New("videos: gone")): "cannot read its pod info: gone",
	} {
		if got := UserText(err); got != want {
			t.Errorf("UserText(%q) = %q, want %q", err, got, want)
		}
	}
	if got := UserText(Errorf(502, "x", "plain").Because(errs["refused"])); got != "plain" {
		t.Errorf("*Error: %q", got)
	}
}

// TestWriteErrorLogsTheCause: the cause goes to the log, not the answer.
func TestWriteErrorLogsTheCause(t *testing.T) {
	var logged strings.Builder
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rec := httptest.NewRecorder()
	err := fmt.Errorf("videos: open /data/uploads/abc: %w", syscall.ENOSPC)
	WriteError(rec, httptest.NewRequest("POST", "/api/v1/videos", nil), log, err)
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != 507 || strings.Contains(string(body), "/data") || !strings.Contains(string(body), `"insufficient_storage"`) {
		t.Fatalf("answer %d %s", rec.Code, body)
	}
	if !strings.Contains(logged.String(), "/data/uploads/abc") {
		t.Fatalf("the log lacks the cause: %s", logged.String())
	}
}
