package turn

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/pion/webrtc/v3"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/httpx"
)

// CredentialTTL is how long credentials handed to pages stay valid: long
// enough to watch a film on one page (TURN refreshes need the same
// credentials), short enough that a leaked one soon expires.
const CredentialTTL = 6 * time.Hour

// ICE decides which ICE servers pages and the seeder use: the External ones
// when set (even an empty list: no servers at all), else the embedded
// Server's, else none.
type ICE struct {
	External []api.ICEServer // nil: not configured
	Server   *Server         // nil: off
}

// Servers returns the servers for one page, with fresh credentials.
func (c ICE) Servers() api.ICEServers {
	switch {
	case c.External != nil:
		return api.ICEServers{ICEServers: c.External}
	case c.Server != nil:
		id := make([]byte, 6)
		rand.Read(id)
		return api.ICEServers{ICEServers: c.Server.ICEServers(hex.EncodeToString(id), CredentialTTL), TTL: int64(CredentialTTL / time.Second)}
	}
	return api.ICEServers{ICEServers: []api.ICEServer{}}
}

// SeederServers returns the servers of the pod's own WebRTC seeder: the
// External ones as configured, or the embedded server's STUN URL only.
// The seeder runs on the pod's host, so a relay on that same host adds no
// path its host and server-reflexive candidates lack, while anacrolix
// gathers candidates for every offer it announces: with TURN, each offer
// of each torrent would hold an allocation of the relay's budget.
func (c ICE) SeederServers() []webrtc.ICEServer {
	var out []webrtc.ICEServer
	switch {
	case c.External != nil:
		for _, s := range c.External {
			out = append(out, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
		}
	case c.Server != nil:
		out = append(out, webrtc.ICEServer{URLs: c.Server.ICEServers("", 0)[0].URLs})
	}
	return out
}

// ServeHTTP answers GET /api/v1/webrtc/ice-servers with Servers. The
// answer carries credentials, so no cache may keep it.
func (c ICE) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, c.Servers())
}
