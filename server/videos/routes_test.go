package videos

import (
	"net/http"
	"testing"
)

// TestRoutesCoexist mounts the routes next to the pod's catch-alls and the
// web seed, as server/pod does: ServeMux panics on conflicting patterns.
func TestRoutesCoexist(t *testing.T) {
	p := newPod(t)
	mux := http.NewServeMux()
	p.svc.Routes(mux, p.svc.log)
	p.acc.Routes(mux, p.svc.log)
	for _, pattern := range []string{"GET /api/v1/pod", "/api/", "GET /{$}", "GET /static/", "GET /static/webseed/{file}", "GET /metrics"} {
		mux.HandleFunc(pattern, func(http.ResponseWriter, *http.Request) {})
	}
	for path, want := range map[string]string{
		"GET /api/v1/videos/abc/torrent":       "GET /api/v1/videos/{id}/{sub}",
		"HEAD /api/v1/videos/uploads/x":        "HEAD /api/v1/videos/{id}/{sub}",
		"PATCH /api/v1/videos/uploads/x":       "PATCH /api/v1/videos/uploads/{uploadID}",
		"POST /api/v1/videos/uploads/":         "POST /api/v1/videos/uploads/{$}",
		"POST /api/v1/videos/uploads/x/finish": "POST /api/v1/videos/uploads/{uploadID}/finish",
		"GET /api/v1/videos/search":            "GET /api/v1/videos/search",
		"DELETE /api/v1/videos/abc":            "DELETE /api/v1/videos/{id}",
		"PUT /api/v1/videos/abc":               "/api/",
	} {
		var method, target string
		for i := range path {
			if path[i] == ' ' {
				method, target = path[:i], path[i+1:]
				break
			}
		}
		r, _ := http.NewRequest(method, target, nil)
		if _, got := mux.Handler(r); got != want {
			t.Errorf("%s routed to %q, want %q", path, got, want)
		}
	}
}
