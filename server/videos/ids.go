package videos

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
)

// Identifiers. Local videos get 16 random lower-case base32 characters (80
// bits); friends' videos get "r" plus 16 characters derived from their
// origin and origin id, so the two can never collide and a friend re-sending
// a video always maps to the same key. Uploads get 26 characters (130 bits),
// which no video id can be mistaken for.
const (
	idLen       = 16
	uploadIDLen = 26
)

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func randomID(n int) string {
	buf := make([]byte, (n*5+7)/8)
	_, _ = rand.Read(buf) // crypto/rand.Read never fails (Go 1.24+)
	return b32.EncodeToString(buf)[:n]
}

func newVideoID() string  { return randomID(idLen) }
func newUploadID() string { return randomID(uploadIDLen) }

// remoteKey is the local id of video id from the pod at origin.
func remoteKey(origin, id string) string {
	sum := sha256.Sum256([]byte(origin + "\n" + id))
	return "r" + b32.EncodeToString(sum[:])[:idLen]
}

func isB32(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// validLocalID reports whether s has the form of a local video id.
func validLocalID(s string) bool { return len(s) == idLen && isB32(s) }

// validID reports whether s has the form of any video id, local or remote.
func validID(s string) bool {
	return validLocalID(s) || (len(s) == idLen+1 && s[0] == 'r' && isB32(s[1:]))
}

func validUploadID(s string) bool { return len(s) == uploadIDLen && isB32(s) }
