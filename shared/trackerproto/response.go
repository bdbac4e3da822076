package trackerproto

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// ScrapeFile is one swarm's counts in a scrape reply.
type ScrapeFile struct {
	InfoHash   ID
	Complete   int
	Incomplete int
	Downloaded int
}

// Response is a message from the tracker to a peer. Exactly one of these
// shapes is set: a failure (FailureReason), a relayed offer (Offer), a
// relayed answer (Answer), a scrape reply (Action == ActionScrape) or an
// announce reply (HasCounts).
//
// After DecodeResponse, Offer and Answer alias the decoded buffer.
type Response struct {
	Action         Action
	FailureReason  string
	WarningMessage string

	InfoHash    ID
	HasInfoHash bool

	// Announce reply.
	HasCounts  bool
	Complete   int
	Incomplete int
	Interval   int // seconds

	// Relayed offer or answer.
	PeerID  ID
	OfferID ID
	Offer   json.RawMessage
	Answer  json.RawMessage

	// Scrape reply.
	Files              []ScrapeFile
	MinRequestInterval int
}

// AppendAnnounceReply appends the reply to an announce, with the keys in
// bittorrent-tracker's order.
func AppendAnnounceReply(dst []byte, infoHash ID, complete, incomplete, interval int) []byte {
	dst = append(dst, `{"complete":`...)
	dst = strconv.AppendInt(dst, int64(complete), 10)
	dst = append(dst, `,"incomplete":`...)
	dst = strconv.AppendInt(dst, int64(incomplete), 10)
	dst = append(dst, `,"action":"announce","interval":`...)
	dst = strconv.AppendInt(dst, int64(interval), 10)
	dst = append(dst, `,"info_hash":`...)
	dst = infoHash.AppendJSON(dst)
	return append(dst, '}')
}

// AppendOfferRelay appends the message relaying offer (raw JSON) from peer
// peerID to another peer of the swarm.
func AppendOfferRelay(dst []byte, infoHash, peerID, offerID ID, offer []byte) []byte {
	dst = append(dst, `{"action":"announce","offer":`...)
	return appendRelayTail(append(dst, offer...), infoHash, peerID, offerID)
}

// RelayTail is the end of the offer relays of one announce (its peer_id
// and info_hash), encoded once for all its offers.
type RelayTail []byte

// AppendRelayTail appends the tail shared by the relays of peerID's offers.
func AppendRelayTail(dst []byte, infoHash, peerID ID) RelayTail {
	dst = append(dst, `,"peer_id":`...)
	dst = peerID.AppendJSON(dst)
	dst = append(dst, `,"info_hash":`...)
	dst = infoHash.AppendJSON(dst)
	return append(dst, '}')
}

// AppendOfferRelayTail is AppendOfferRelay with the tail encoded already.
func AppendOfferRelayTail(dst []byte, offerID ID, offer []byte, tail RelayTail) []byte {
	dst = append(dst, `{"action":"announce","offer":`...)
	dst = append(dst, offer...)
	dst = append(dst, `,"offer_id":`...)
	dst = offerID.AppendJSON(dst)
	return append(dst, tail...)
}

// AppendAnswerRelay appends the message relaying answer (raw JSON) from
// peer peerID to the peer that made the offer offerID.
func AppendAnswerRelay(dst []byte, infoHash, peerID, offerID ID, answer []byte) []byte {
	dst = append(dst, `{"action":"announce","answer":`...)
	return appendRelayTail(append(dst, answer...), infoHash, peerID, offerID)
}

func appendRelayTail(dst []byte, infoHash, peerID, offerID ID) []byte {
	dst = append(dst, `,"offer_id":`...)
	dst = offerID.AppendJSON(dst)
	return AppendRelayTail(dst, infoHash, peerID)
}

// AppendFailure appends a failure message. With ActionNone (a message that
// could not be parsed) only the reason is sent, as bittorrent-tracker does;
// otherwise the action and, if infoHash is not nil, the info hash too.
func AppendFailure(dst []byte, action Action, reason string, infoHash *ID) []byte {
	if action == ActionNone {
		dst = append(dst, `{"failure reason":`...)
		return append(appendString(dst, reason), '}')
	}
	dst = append(dst, `{"action":"`...)
	dst = append(dst, action.String()...)
	dst = append(dst, `","failure reason":`...)
	dst = appendString(dst, reason)
	if infoHash != nil {
		dst = append(dst, `,"info_hash":`...)
		dst = infoHash.AppendJSON(dst)
	}
	return append(dst, '}')
}

// AppendScrapeReply appends a scrape reply.
func AppendScrapeReply(dst []byte, files []ScrapeFile, minRequestInterval int) []byte {
	dst = append(dst, `{"action":"scrape","files":{`...)
	for i := range files {
		f := &files[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = f.InfoHash.AppendJSON(dst)
		dst = append(dst, `:{"complete":`...)
		dst = strconv.AppendInt(dst, int64(f.Complete), 10)
		dst = append(dst, `,"incomplete":`...)
		dst = strconv.AppendInt(dst, int64(f.Incomplete), 10)
		dst = append(dst, `,"downloaded":`...)
		dst = strconv.AppendInt(dst, int64(f.Downloaded), 10)
		dst = append(dst, '}')
	}
	dst = append(dst, `},"flags":{"min_request_interval":`...)
	dst = strconv.AppendInt(dst, int64(minRequestInterval), 10)
	return append(dst, "}}"...)
}

// AppendJSON appends r in the shape its fields select (see Response).
func (r *Response) AppendJSON(dst []byte) []byte {
	var ih *ID
	if r.HasInfoHash {
		ih = &r.InfoHash
	}
	switch {
	case r.FailureReason != "":
		return AppendFailure(dst, r.Action, r.FailureReason, ih)
	case r.Offer != nil:
		return AppendOfferRelay(dst, r.InfoHash, r.PeerID, r.OfferID, r.Offer)
	case r.Answer != nil:
		return AppendAnswerRelay(dst, r.InfoHash, r.PeerID, r.OfferID, r.Answer)
	case r.Action == ActionScrape:
		return AppendScrapeReply(dst, r.Files, r.MinRequestInterval)
	}
	return AppendAnnounceReply(dst, r.InfoHash, r.Complete, r.Incomplete, r.Interval)
}

// DecodeResponse parses a tracker message into r, reusing r.Files.
func DecodeResponse(data []byte, r *Response) error {
	files := r.Files[:0]
	*r = Response{Files: files}
	s := scanner{data: data}
	var actionRaw []byte
	intField := func(dst *int) error {
		v, err := s.skipValue()
		if err != nil {
			return err
		}
		if f, ok := jsNumber(v); ok {
			*dst = int(toInt64(f))
		}
		return nil
	}
	strField := func(dst *string) error {
		v, err := s.skipValue()
		if err == nil && len(v) > 0 && v[0] == '"' {
			*dst = string(appendUnquoted(nil, v[1:len(v)-1]))
		}
		return err
	}
	idField := func(dst *ID, ok *bool) error {
		st, err := readIDInto(&s, dst)
		if ok != nil {
			*ok = st == idValid
		}
		return err
	}
	err := s.eachMember(func(key []byte, esc bool) error {
		if esc {
			var buf [32]byte
			key = appendUnquoted(buf[:0], key)
		}
		switch string(key) {
		case "action":
			v, err := s.skipValue()
			actionRaw = v
			return err
		case "failure reason":
			return strField(&r.FailureReason)
		case "warning message":
			return strField(&r.WarningMessage)
		case "info_hash":
			return idField(&r.InfoHash, &r.HasInfoHash)
		case "peer_id":
			return idField(&r.PeerID, nil)
		case "offer_id":
			return idField(&r.OfferID, nil)
		case "offer":
			v, err := s.skipValue()
			r.Offer = v
			return err
		case "answer":
			v, err := s.skipValue()
			r.Answer = v
			return err
		case "interval":
			return intField(&r.Interval)
		case "complete":
			r.HasCounts = true
			return intField(&r.Complete)
		case "incomplete":
			r.HasCounts = true
			return intField(&r.Incomplete)
		case "flags":
			if s.peek() != '{' {
				_, err := s.skipValue()
				return err
			}
			return s.eachMember(func(k []byte, esc bool) error {
				if keyIs(k, esc, "min_request_interval") {
					return intField(&r.MinRequestInterval)
				}
				_, err := s.skipValue()
				return err
			})
		case "files":
			if s.peek() != '{' {
				_, err := s.skipValue()
				return err
			}
			return s.eachMember(func(k []byte, esc bool) error {
				var f ScrapeFile
				valid := decodeBinaryString(k, esc, &f.InfoHash)
				if s.peek() != '{' {
					_, err := s.skipValue()
					return err
				}
				err := s.eachMember(func(k []byte, esc bool) error {
					switch {
					case keyIs(k, esc, "complete"):
						return intField(&f.Complete)
					case keyIs(k, esc, "incomplete"):
						return intField(&f.Incomplete)
					case keyIs(k, esc, "downloaded"):
						return intField(&f.Downloaded)
					}
					_, err := s.skipValue()
					return err
				})
				if err == nil && valid && len(r.Files) < MaxScrapeHashes*4 {
					r.Files = append(r.Files, f)
				}
				return err
			})
		}
		_, err := s.skipValue()
		return err
	})
	if err != nil {
		return err
	}
	if err := s.end(); err != nil {
		return err
	}
	switch string(actionRaw) {
	case `"announce"`:
		r.Action = ActionAnnounce
	case `"scrape"`:
		r.Action = ActionScrape
	case "":
		if r.FailureReason == "" {
			return fmt.Errorf("%w: no action", ErrInvalidResponse)
		}
	default:
		return fmt.Errorf("%w: action %s", ErrInvalidResponse, describe(actionRaw))
	}
	return nil
}
