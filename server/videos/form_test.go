package videos

import (
	"bytes"
	"log/slog"
	"mime/multipart"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swarmtube/swarmtube/server/store"
)

const fuzzBoundary = "XBOUNDARYX"

func formCase(parts ...[2]string) []byte {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.SetBoundary(fuzzBoundary)
	for _, p := range parts {
		if p[0] == "file" {
			w, _ := mw.CreateFormFile("file", "x.mp4")
			w.Write([]byte(p[1]))
		} else {
			mw.WriteField(p[0], p[1])
		}
	}
	mw.Close()
	return b.Bytes()
}

// FuzzReceiveForm feeds arbitrary multipart bodies to the upload form
// reader: it must never panic, answer only 4xx for bad input, keep to the
// size limit and leave no file behind on error.
func FuzzReceiveForm(f *testing.F) {
	f.Add(formCase([2]string{"name", "n"}, [2]string{"description", "d"}, [2]string{"file", "abc"}))
	f.Add(formCase([2]string{"file", "a"}, [2]string{"file", "b"}))
	f.Add(formCase([2]string{"name", "only"}))
	f.Add(formCase([2]string{"other", "x"}, [2]string{"file", strings.Repeat("z", 100)}))
	f.Add([]byte("--" + fuzzBoundary + "\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc"))
	f.Add([]byte("garbage"))
	dir := f.TempDir()
	st, err := store.Open(filepath.Join(dir, "pod.db"))
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	s, err := New(Config{PodURL: "http://pod.test", DataDir: dir, MaxUploadBytes: 64}, st, nil, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		form, err := s.receiveForm(multipart.NewReader(bytes.NewReader(body), fuzzBoundary))
		if err != nil {
			if !answered4xx(err) {
				t.Fatalf("error is not a 4xx answer: %v", err)
			}
			if entries, _ := os.ReadDir(s.videoDir); len(entries) != 0 {
				t.Fatalf("left %d files after %v", len(entries), err)
			}
			return
		}
		st, err := os.Stat(form.path)
		if err != nil || st.Size() > 64 {
			t.Fatalf("file: %v %v", st, err)
		}
		form.cleanup()
		if entries, _ := os.ReadDir(s.videoDir); len(entries) != 0 {
			t.Fatal("cleanup left a file")
		}
	})
}
