package e2e_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/tus/tusd/v2/pkg/filestore"
	tushandler "github.com/tus/tusd/v2/pkg/handler"
	expslog "golang.org/x/exp/slog"

	"github.com/swarmtube/swarmtube/web"
)

// TestTusClient drives static/js/tus.js in Chromium against tusd, the
// reference tus server, with PATCH requests that fail on purpose: the
// upload must retry, resume from the server's offset after a broken
// connection and after abort(), and deliver the exact bytes.
func TestTusClient(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	composer := tushandler.NewStoreComposer()
	filestore.New(dir).UseIn(composer)
	tus, err := tushandler.NewHandler(tushandler.Config{
		BasePath:      "/api/v1/videos/uploads/",
		StoreComposer: composer,
		Logger:        expslog.New(expslog.NewTextHandler(io.Discard, nil)), // tusd logs every request
	})
	if err != nil {
		t.Fatal(err)
	}
	var patches, failures, deletes atomic.Int32
	// Every other PATCH fails, by turns: a 503; a body cut after 300 kB
	// and answered 500 upload_stalled, as the pod answers a stalled body
	// (server/videos TestTusStalledPatch); a connection cut mid-chunk.
	failEvery := int32(2)
	faulty := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			deletes.Add(1)
		}
		if r.Method == http.MethodPatch {
			n := patches.Add(1)
			if n%failEvery == 0 {
				f := failures.Add(1)
				switch f % 3 {
				case 1:
					http.Error(w, "try again later", http.StatusServiceUnavailable)
					return
				case 2:
					// tusd keeps what it read; the upload must resume from
					// HEAD, not give up. (A proxy's 408, which tus.js resumes
					// from too, is pinned by TestTusRetryable in web: Chromium
					// resends a request answered 408 on a reused connection
					// by itself, which then meets 409 offset_mismatch.)
					// The rest of the body is read, so that the browser,
					// done sending, reads the answer rather than a broken
					// connection.
					body := r.Body
					r.Body = &breakingBody{r: body, left: 300_000, err: os.ErrDeadlineExceeded}
					http.StripPrefix("/api/v1/videos/uploads/", tus).ServeHTTP(httptest.NewRecorder(), r)
					_, _ = io.Copy(io.Discard, body)
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusInternalServerError)
					fmt.Fprintln(w, `{"error":"upload_stalled","message":"the upload's bytes stopped arriving"}`)
					return
				}
				// The connection breaks mid-chunk: tusd keeps the part it
				// read, so the client must ask where it stands and go on
				// from an offset that is not a chunk boundary.
				r.Body = &breakingBody{r: r.Body, left: 300_000}
				http.StripPrefix("/api/v1/videos/uploads/", tus).ServeHTTP(w, r)
				return
			}
		}
		http.StripPrefix("/api/v1/videos/uploads/", tus).ServeHTTP(w, r)
	})
	mux := http.NewServeMux()
	web.Routes(mux, web.Options{})
	mux.Handle("/api/v1/videos/uploads/", faulty)
	base := newLoopbackServer(t, mux)

	b := newBrowser(t)
	b.do("open a page", 20*time.Second, chromedp.Navigate(base+"/login"))

	const size = 5<<20 + 12345
	const chunk = 1 << 20
	script := fmt.Sprintf(`(async () => {
		const { TusUpload } = await import('/static/js/tus.js');
		const data = new Uint8Array(%d);
		for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 11)) & 255;
		const file = new File([data], 'clip “été”.mp4', { type: 'video/mp4', lastModified: 1700000000000 });
		const events = { progress: [], retry: 0, resume: [] };
		const mk = (f = file, meta = { filename: file.name, name: 'Été', description: 'a <b>test</b>' }) => {
			const u = new TusUpload(f, { endpoint: '/api/v1/videos/uploads/', chunkSize: %d, retryDelays: [0, 50, 100, 200, 400, 800],
				metadata: meta });
			u.addEventListener('progress', (e) => events.progress.push(e.detail.loaded / e.detail.total));
			u.addEventListener('retry', () => events.retry++);
			u.addEventListener('resume', (e) => events.resume.push(e.detail.offset));
			return u;
		};
		// First run: abort once two chunks are through, as a closed tab would.
		const first = mk();
		first.addEventListener('progress', (e) => { if (e.detail.loaded >= 2 * %d) first.abort(); });
		let aborted = false;
		try { await first.start(); } catch (err) { aborted = err.name === 'AbortError'; }
		// Second run, a new object for the same file, with the form's fields
		// typed differently: the file alone says what to resume.
		const second = mk(file, { filename: file.name, name: 'Another name', description: 'typed again' });
		const url = await second.start();
		second.forget();
		const last = events.progress[events.progress.length - 1];
		// A third file, cancelled after its first chunk: the server is told
		// to drop it (DELETE) and nothing is remembered.
		const other = new File([data.slice(0, 3 << 20)], 'other.mp4', { type: 'video/mp4', lastModified: 1700000000001 });
		const third = mk(other, { filename: 'other.mp4', name: 'x' });
		let cancelling = null; // cancel() resolves once the server answered its DELETE
		third.addEventListener('progress', (e) => { if (e.detail.loaded >= %d) cancelling ??= third.cancel(); });
		let cancelled = false;
		try { await third.start(); } catch (err) { cancelled = err.name === 'AbortError'; }
		await cancelling;
		return JSON.stringify({ aborted, url, id: second.uploadID, same: first.url === second.url,
			last, retry: events.retry, resume: events.resume, cancelled, remembered: localStorage.length });
	})()`, size, chunk, chunk, chunk)
	res := eval[string](b, script)
	t.Logf("result: %s (PATCHes %d, injected failures %d)", res, patches.Load(), failures.Load())
	for _, want := range []string{`"aborted":true`, `"same":true`, `"last":1`, `"cancelled":true`, `"remembered":0`} {
		if !strings.Contains(res, want) {
			t.Errorf("result lacks %s", want)
		}
	}
	if strings.Contains(res, `"retry":0`) || strings.Contains(res, `"retry":1,`) || strings.Contains(res, `"resume":[]`) {
		t.Errorf("want two retries and a resume: %s", res)
	}
	if deletes.Load() != 1 {
		t.Errorf("the cancelled upload sent %d DELETE requests, want 1", deletes.Load())
	}
	if failures.Load() < 3 {
		t.Errorf("only %d injected failures: the test did not exercise all three kinds", failures.Load())
	}

	// The server holds exactly the bytes, and the metadata round-trips UTF-8.
	want := make([]byte, size)
	for i := range want {
		want[i] = byte((i*7 + (i >> 11)) & 255)
	}
	id := between(res, `"id":"`, `"`)
	got, err := os.ReadFile(filepath.Join(dir, id))
	if err != nil {
		t.Fatalf("uploaded file: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("uploaded %d bytes differ from the %d sent", len(got), len(want))
	}
	info, err := os.ReadFile(filepath.Join(dir, id+".info"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"name":"Été"`, `"filename":"clip “été”.mp4"`, `"description":"a \u003cb\u003etest\u003c/b\u003e"`} {
		if !strings.Contains(string(info), want) {
			t.Errorf("upload info lacks %s: %s", want, info)
		}
	}
}

// breakingBody fails after left bytes, as a cut connection would.
type breakingBody struct {
	r    io.ReadCloser
	left int
	err  error // after left bytes; nil: a reset
}

func (b *breakingBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		if b.err != nil {
			return 0, b.err
		}
		return 0, errors.New("connection reset (injected)")
	}
	if len(p) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= n
	return n, err
}

func (b *breakingBody) Close() error { return b.r.Close() }

func between(s, a, b string) string {
	_, rest, ok := strings.Cut(s, a)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, b)
	return v
}
