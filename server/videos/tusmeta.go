package videos

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"github.com/swarmtube/swarmtube/server/httpx"
)

// maxMetaKeyShown bounds how much of a client's key an error repeats.
const maxMetaKeyShown = 40

// parseUploadMetadata parses the Upload-Metadata header of a tus creation
// (tus 1.0.0, "Upload-Metadata"): one or more comma-separated pairs, each a
// key and its value in base64 (standard alphabet, padded) separated by one
// space; the key is not empty and holds no space or comma; keys are
// unique; a pair may be a key alone, for an empty value. Spaces around a
// pair are allowed, as tusd's parser trims them. values are the header's
// lines (nil or one: the header is not a list).
//
// tusd's own parser (handler.ParseMetadataHeader) skips a malformed pair
// silently, so an upload would lose its name or description without a
// word; the pod checks the header first and refuses it with 400
// invalid_metadata, saying which pair is wrong and why. On success it
// returns the decoded pairs, the same map tusd makes of the header.
func parseUploadMetadata(values []string) (map[string]string, error) {
	meta := map[string]string{}
	switch len(values) {
	case 0:
		return meta, nil
	case 1:
	default:
		return nil, errMetadata("send Upload-Metadata once, with every pair in it separated by commas")
	}
	if strings.TrimSpace(values[0]) == "" {
		return meta, nil
	}
	for i, pair := range strings.Split(values[0], ",") {
		n := strconv.Itoa(i + 1)
		pair = strings.TrimSpace(pair)
		if pair == "" {
			return nil, errMetadata("pair " + n + " is empty: remove the extra comma")
		}
		parts := strings.Split(pair, " ")
		key := parts[0]
		shown := strconv.Quote(key[:min(len(key), maxMetaKeyShown)])
		switch {
		case key == "":
			return nil, errMetadata("pair " + n + " has no key")
		case len(parts) > 2:
			return nil, errMetadata("pair " + n + " (" + shown + ") has more than one space: a key, one space, then its value in base64")
		}
		if _, dup := meta[key]; dup {
			return nil, errMetadata("the key " + shown + " is given twice")
		}
		value := ""
		if len(parts) == 2 {
			b, err := base64.StdEncoding.DecodeString(parts[1])
			if err != nil {
				return nil, errMetadata("the value of " + shown + " is not base64 (standard alphabet, with = padding)")
			}
			value = string(b)
		}
		meta[key] = value
	}
	return meta, nil
}

func errMetadata(why string) *httpx.Error {
	return httpx.Errorf(http.StatusBadRequest, "invalid_metadata",
		"Upload-Metadata must be comma-separated pairs of a key and its value in base64, as tus 1.0.0 says: %s", why)
}
