package videos

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

// tusJSStall uploads TUS_FILE to TUS_ENDPOINT with tus-js-client, the tus
// reference client (Uppy's), as a web uploader configures it: retryDelays
// set, everything else its default. Its first PATCH sends half its body and
// then nothing, until the pod answers; the answers the client got are
// printed as JSON with the upload's URL, or with the error it gave up on.
const tusJSStall = `
import { Upload, DefaultHttpStack } from 'tus-js-client';
import { Readable } from 'node:stream';
import { readFileSync } from 'node:fs';

const data = readFileSync(process.env.TUS_FILE);
const real = new DefaultHttpStack();
const answers = [];
let patches = 0;
const httpStack = {
  getName: () => 'StallingHttpStack',
  createRequest(method, url) {
    const req = real.createRequest(method, url);
    const send = req.send.bind(req);
    req.send = async (body) => {
      let stalled = null;
      if (method === 'PATCH' && patches++ === 0) {
        // Half the body, announced whole (size: Content-Length), then
        // silence with the connection open: a stalled upload.
        stalled = new Readable({ read() {} });
        stalled.size = body.length;
        stalled.push(body.subarray(0, body.length >> 1));
      }
      try {
        const res = await send(stalled || body);
        answers.push({ method, status: res.getStatus(), body: res.getBody() });
        return res;
      } finally {
        if (stalled) stalled.destroy();
      }
    };
    return req;
  },
};
const upload = new Upload(data, {
  endpoint: process.env.TUS_ENDPOINT,
  headers: { Authorization: 'Bearer ' + process.env.TUS_TOKEN },
  metadata: { name: 'sent by tus-js-client', filename: 'clip.mp4' },
  retryDelays: [0, 500, 1000],
  httpStack,
  onError(err) {
    console.log(JSON.stringify({ error: String(err), answers }));
    process.exit(0);
  },
  onSuccess() {
    console.log(JSON.stringify({ url: upload.url, answers }));
    process.exit(0);
  },
});
upload.start();
`

// TestTusReferenceClientResumesStall runs tus-js-client (npm, pinned in
// scripts/node) against a pod whose stall window is short, and stalls its
// first PATCH: the pod cuts it and answers upload_stalled, and the client,
// which retries only network errors, 5xx, 409 and 423 (shouldRetry in its
// upload.js), must resume from HEAD and complete the upload with the file's
// bytes. With a 4xx such as 408 it gave up where tusd's 500 let it resume.
func TestTusReferenceClientResumesStall(t *testing.T) {
	nm := testenv.NodeModules(t)
	if _, err := os.Stat(filepath.Join(nm, "tus-js-client", "package.json")); err != nil {
		testenv.Missing(t, "tus-js-client not installed in %s (run `make test`)", nm)
	}
	const window = 2 * time.Second // as TestTusStalledPatch
	fast, _ := clips(t)
	p := newPod(t, withBodyRate(window))
	file := filepath.Join(t.TempDir(), "clip.mp4")
	if err := os.WriteFile(file, fast, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "--input-type=module", "-e", tusJSStall)
	cmd.Dir = filepath.Dir(nm) // scripts/node, where 'tus-js-client' resolves
	cmd.Env = append(os.Environ(), "TUS_FILE="+file, "TUS_ENDPOINT="+p.srv.URL+UploadsPath, "TUS_TOKEN="+p.tokens["alice"])
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v: %s%s", err, out, stderr.Bytes())
	}
	var got struct {
		URL, Error string
		Answers    []struct {
			Method, Body string
			Status       int
		}
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("node printed %q (%s): %v", out, stderr.Bytes(), err)
	}
	var stalled bool
	for _, a := range got.Answers {
		if a.Method == "PATCH" && strings.Contains(a.Body, `"upload_stalled"`) {
			stalled = true
		}
	}
	if !stalled {
		t.Fatalf("no PATCH was answered upload_stalled: the stall did not happen (answers %+v)", got.Answers)
	}
	if got.Error != "" || got.URL == "" {
		t.Fatalf("tus-js-client gave up after a stalled PATCH: %s (answers %+v)", got.Error, got.Answers)
	}
	path := got.URL[strings.Index(got.URL, UploadsPath):]
	if status, off := p.tusOffset("alice", path); status != 200 || off != len(fast) {
		t.Fatalf("after the upload: HEAD %d offset %d, want %d", status, off, len(fast))
	}
	s, v, code := p.tusFinish("alice", path, "")
	if s != 201 {
		t.Fatalf("finish: %d %s", s, code)
	}
	stored, err := os.ReadFile(filepath.Join(p.dir, "videos", v.ID+".mp4"))
	if err != nil || !bytes.Equal(stored, fast) {
		t.Fatalf("the stored video (%d bytes, %v) is not the file sent (%d bytes)", len(stored), err, len(fast))
	}
}
