package videos

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/server/api"
)

// TestTusAnswersTotal walks every tusd package the pod builds with (go list
// -deps) for the errors tusd can send, each a handler.NewError call, and
// wants each answered deliberately by tusWords: a JSON code of the pod's,
// plain words that are not tusd's, and a 4xx unless the failure is the
// pod's (503 restarting, 501 not supported, 500 its own failure) or a body
// that failed on its way, which is a 500 so that standard tus clients
// resume (tusAnswers). A tusd upgrade that adds an error fails here
// instead of reaching users as an unexplained 500.
func TestTusAnswersTotal(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Dir}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	found := map[string]string{} // tusd's code → its words
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, dir, _ := strings.Cut(line, " ")
		if !strings.HasPrefix(path, "github.com/tus/tusd/") {
			continue
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			for code, words := range newErrorCalls(t, f) {
				found[code] = words
			}
		}
	}
	if len(found) < 25 || found["ERR_READ_TIMEOUT"] == "" {
		t.Fatalf("found only %d tusd errors (%v): the walk is broken", len(found), found)
	}
	deliberate5xx := map[string]int{"ERR_SERVER_SHUTDOWN": 503, "ERR_NOT_IMPLEMENTED": 501, "ERR_INTERNAL_SERVER_ERROR": 500,
		// A body that failed on its way: 500, which tus clients resume
		// from; with a 4xx (but 409 and 423) they give up.
		"ERR_READ_TIMEOUT": 500, "ERR_CONNECTION_RESET": 500, "ERR_UNEXPECTED_EOF": 500}
	s := &Service{cfg: Config{MaxUploadBytes: 1 << 30}}
	snake := regexp.MustCompile(`^[a-z]+(_[a-z]+)*$`)
	for code, words := range found {
		t.Run(code, func(t *testing.T) {
			e := s.tusWords(http.StatusInternalServerError, http.Header{}, code+": "+words)
			if e == nil {
				t.Fatalf("no answer for tusd's %s (%q): add it to tusAnswers", code, words)
			}
			if (e.Status >= 500 || deliberate5xx[code] != 0) && deliberate5xx[code] != e.Status {
				t.Errorf("%s answered %d: a client's or the network's doing is a 4xx, a failed body the 500 tus clients resume from", code, e.Status)
			}
			if e.Status < 400 || e.Status > 599 {
				t.Errorf("%s answered %d", code, e.Status)
			}
			if !snake.MatchString(e.Code) || e.Message == "" || strings.Contains(e.Message, "ERR_") ||
				(len(words) > 12 && strings.Contains(e.Message, words)) {
				t.Errorf("%s answered %q %q: want the pod's code and words", code, e.Code, e.Message)
			}
		})
	}
	for code := range tusAnswers {
		if _, ok := found[code]; !ok {
			t.Errorf("tusAnswers has %s, which tusd no longer sends", code)
		}
	}
	// The statuses tusd gets wrong for the pod, and a failed body's, by name.
	for _, tc := range []struct {
		code   string
		status int
		answer string
	}{
		{"ERR_READ_TIMEOUT", http.StatusInternalServerError, "upload_stalled"},
		{"ERR_CONNECTION_RESET", http.StatusInternalServerError, "upload_cut_short"},
		{"ERR_UNEXPECTED_EOF", http.StatusInternalServerError, "upload_cut_short"},
		{"ERR_LOCK_TIMEOUT", http.StatusLocked, "upload_busy"},
		{"ERR_UPLOAD_INTERRUPTED", http.StatusConflict, "upload_interrupted"},
		{"ERR_MAX_SIZE_EXCEEDED", http.StatusRequestEntityTooLarge, "too_large"},
		{"ERR_UPLOAD_NOT_FOUND", http.StatusNotFound, "upload_not_found"},
	} {
		if e := s.tusWords(500, http.Header{}, tc.code+": x"); e == nil || e.Status != tc.status || e.Code != tc.answer {
			t.Errorf("%s: %+v, want %d %s", tc.code, e, tc.status, tc.answer)
		}
	}
}

// newErrorCalls returns the code and words of every NewError("ERR_…",
// words, status) call in a Go file; words that are not a literal are
// "detail".
func newErrorCalls(t *testing.T, file string) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) != 3 {
			return true
		}
		switch fn := call.Fun.(type) {
		case *ast.Ident:
			if fn.Name != "NewError" {
				return true
			}
		case *ast.SelectorExpr:
			if fn.Sel.Name != "NewError" {
				return true
			}
		default:
			return true
		}
		lit, ok := call.Args[0].(*ast.BasicLit)
		if !ok {
			t.Errorf("%s: NewError with a code that is not a literal: walk it by hand", file)
			return true
		}
		code, _ := strconv.Unquote(lit.Value)
		words := "detail"
		if w, ok := call.Args[1].(*ast.BasicLit); ok {
			words, _ = strconv.Unquote(w.Value)
		}
		calls[code] = words
		return true
	})
	return calls
}

// TestTusStalledPatch: a PATCH whose body stops arriving is cut by
// httpx.MinBodyRate after its window (TestMinBodyRate pins the cut itself),
// and answered upload_stalled in the API's JSON, with tusd's 500, which tus
// clients resume from (TestTusReferenceClientResumesStall); the bytes that
// arrived are kept, and the upload resumes from HEAD.
func TestTusStalledPatch(t *testing.T) {
	const window = 2 * time.Second // above a loaded machine's hiccups; the cut takes about one
	fast, _ := clips(t)
	p := newPod(t, withBodyRate(window))
	_, path := p.tusCreate("alice", len(fast), tusMeta("name", "stalled then resumed"))
	sent := len(fast) / 2
	c, err := net.Dial("tcp", p.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "PATCH %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nTus-Resumable: 1.0.0\r\n"+
		"Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\nContent-Length: %d\r\n\r\n",
		path, p.tokens["alice"], len(fast))
	if _, err := c.Write(fast[:sent]); err != nil {
		t.Fatal(err)
	}
	// ... and nothing more: the client stalls, with its connection open.
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled PATCH: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	var e api.Error
	if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != http.StatusInternalServerError || e.Error != "upload_stalled" ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("stalled PATCH: %d %q %s, want 500 upload_stalled in JSON", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	status, off := p.tusOffset("alice", path)
	if status != http.StatusOK || off <= 0 || off > sent {
		t.Fatalf("after the stall: HEAD %d, offset %d of the %d sent", status, off, sent)
	}
	if r := p.tusPatch("alice", path, off, fast[off:]); r.StatusCode != http.StatusNoContent {
		t.Fatalf("resume: %d", r.StatusCode)
	}
	if s, _, code := p.tusFinish("alice", path, ""); s != http.StatusCreated {
		t.Fatalf("finish: %d %s", s, code)
	}
}

// failingBody gives head, then fails with err.
type failingBody struct {
	head []byte
	err  error
}

func (b *failingBody) Read(p []byte) (int, error) {
	if len(b.head) == 0 {
		return 0, b.err
	}
	n := copy(p, b.head)
	b.head = b.head[n:]
	return n, nil
}

func (b *failingBody) Close() error { return nil }

// TestTusBodyFailures: however a PATCH's body fails, the client hears it
// stalled or cut short in the pod's words, with the 500 tus clients resume
// from. tusd knows only some read errors by their type or text and
// answered the rest (an HTTP/2 client cancelling its stream) as its own
// failure; clientBody makes them an early end.
func TestTusBodyFailures(t *testing.T) {
	fast, _ := clips(t)
	p := newPod(t)
	for _, tc := range []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"client gone", io.ErrUnexpectedEOF, http.StatusInternalServerError, "upload_cut_short"},
		{"http2 stream cancelled", errors.New("client disconnected"), http.StatusInternalServerError, "upload_cut_short"},
		{"reset", &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", errors.New("connection reset by peer"))}, http.StatusInternalServerError, "upload_cut_short"},
		{"deadline", os.ErrDeadlineExceeded, http.StatusInternalServerError, "upload_stalled"},
		{"wrapped deadline", fmt.Errorf("proxy stream: %w", os.ErrDeadlineExceeded), http.StatusInternalServerError, "upload_stalled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, path := p.tusCreate("alice", len(fast), tusMeta("name", tc.name))
			// tusd watches the request's context until it ends, as a
			// server's does when the request is over.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r := httptest.NewRequestWithContext(ctx, "PATCH", path, &failingBody{head: fast[:4096], err: tc.err})
			r.ContentLength = int64(len(fast))
			r.Header.Set("Authorization", "Bearer "+p.tokens["alice"])
			r.Header.Set("Tus-Resumable", "1.0.0")
			r.Header.Set("Upload-Offset", "0")
			r.Header.Set("Content-Type", "application/offset+octet-stream")
			w := httptest.NewRecorder()
			p.srv.Config.Handler.ServeHTTP(w, r)
			cancel()
			var e api.Error
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || w.Code != tc.status || e.Error != tc.code {
				t.Fatalf("%d %s, want %d %s", w.Code, w.Body, tc.status, tc.code)
			}
			if status, off := p.tusOffset("alice", path); status != http.StatusOK || off != 4096 {
				t.Fatalf("HEAD %d offset %d, want the 4096 bytes that came", status, off)
			}
		})
	}
}
