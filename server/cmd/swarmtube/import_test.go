package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/accounts"
	"github.com/swarmtube/swarmtube/server/httpx"
	"github.com/swarmtube/swarmtube/server/store"
	"github.com/swarmtube/swarmtube/server/videos"
)

func TestImport(t *testing.T) {
	dir := t.TempDir()
	clip, _ := testenv.MakeClip(t, testenv.Clip{})
	text := filepath.Join(dir, "notes.mp4")
	os.WriteFile(text, []byte("not a video"), 0o600)

	log := slog.New(slog.DiscardHandler)
	st, err := store.Open(filepath.Join(dir, "data", "pod.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	acc, err := accounts.New(st, accounts.Config{ArgonMemoryKiB: 64, ArgonTime: 1}, log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acc.EnsureAdmin(context.Background(), "admin-password"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	podURL := "http://" + srv.Listener.Addr().String()
	svc, err := videos.New(videos.Config{PodURL: podURL, DataDir: filepath.Join(dir, "data"), MaxUploadBytes: 16 << 20}, st, nil, log, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	acc.Routes(mux, log)
	svc.Routes(mux, log)
	srv.Config.Handler = httpx.Chain(mux, acc.Middleware(log))
	srv.Start()
	t.Cleanup(srv.Close)

	o := importOptions{Pod: podURL + "/", User: "admin", Password: "admin-password", Name: "Imported <clip>", Description: "from disk", File: clip}
	v, err := importVideo(context.Background(), srv.Client(), o)
	if err != nil {
		t.Fatal(err)
	}
	if v.Name != "Imported <clip>" || v.Owner != "admin" || len(v.InfoHash) != 40 {
		t.Fatalf("video %+v", v)
	}
	list, err := svc.List(0, 10)
	if err != nil || list.Total != 1 || !reflect.DeepEqual(list.Data[0], v) {
		t.Fatalf("list %+v %v", list, err)
	}

	for name, tc := range map[string]struct {
		mod  func(*importOptions)
		want string
	}{
		"wrong password": {func(o *importOptions) { o.Password = "nope-nope-nope" }, "bad_credentials"},
		"not a video":    {func(o *importOptions) { o.File = text }, "not_a_video"},
		"missing file":   {func(o *importOptions) { o.File = filepath.Join(dir, "absent.mp4") }, "no such file"},
		"bad pod url":    {func(o *importOptions) { o.Pod = "ftp://x" }, "not an http(s) URL"},
	} {
		bad := o
		tc.mod(&bad)
		if _, err := importVideo(context.Background(), srv.Client(), bad); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := runImport([]string{"--pod", podURL}); err == nil {
		t.Error("runImport without a file succeeded")
	}
}
