package trackerproto

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Limits the decoder enforces whatever the tracker's own policy, so that a
// message never makes it allocate more than a few kilobytes of structure.
const (
	// MaxOffers is the largest offers array DecodeRequest accepts.
	MaxOffers = 100
	// MaxScrapeHashes is the largest info_hash array of a scrape.
	MaxScrapeHashes = 256
	// LeftUnknown is Request.Left when the peer sent no usable left.
	LeftUnknown int64 = -1
)

// Action is a message's action.
type Action uint8

// Actions.
const (
	ActionNone Action = iota // absent or not understood
	ActionAnnounce
	ActionScrape
)

// String returns the action's wire name ("" for ActionNone).
func (a Action) String() string {
	switch a {
	case ActionAnnounce:
		return "announce"
	case ActionScrape:
		return "scrape"
	}
	return ""
}

// Event is an announce's event.
type Event uint8

// Events. EventUpdate is the regular re-announce (absent, "", "update"
// or "empty" on the wire).
const (
	EventUpdate Event = iota
	EventStarted
	EventStopped
	EventCompleted
	EventPaused
	EventInvalid // any other value; the tracker answers "invalid event"
)

// String returns the event's wire name.
func (e Event) String() string {
	switch e {
	case EventUpdate:
		return "update"
	case EventStarted:
		return "started"
	case EventStopped:
		return "stopped"
	case EventCompleted:
		return "completed"
	case EventPaused:
		return "paused"
	}
	return "invalid"
}

// ParseEvent maps a wire event name to an Event (EventInvalid if unknown).
func ParseEvent(s string) Event {
	switch s {
	case "", "update", "empty":
		return EventUpdate
	case "started":
		return EventStarted
	case "stopped":
		return EventStopped
	case "completed":
		return EventCompleted
	case "paused":
		return EventPaused
	}
	return EventInvalid
}

// Offer is one WebRTC offer of an announce.
type Offer struct {
	// ID is the offer_id the answer will carry back.
	ID ID
	// SDP is the offer value (normally {"type":"offer","sdp":"..."}),
	// relayed verbatim.
	SDP json.RawMessage
}

// Request is a message from a peer to the tracker: an announce (possibly
// carrying offers, or an answer to a relayed offer) or a scrape.
//
// After DecodeRequest, the RawMessage fields alias the decoded buffer.
type Request struct {
	Action Action
	// InfoHash is the announce's swarm, or a scrape's single hash.
	InfoHash ID
	// InfoHashes lists a scrape's hashes; empty means "all swarms".
	InfoHashes []ID
	PeerID     ID
	// NumWant is the number of peers wanted; bittorrent-tracker ignores it
	// over WebSocket and uses len(Offers).
	NumWant    int
	Uploaded   int64
	Downloaded int64
	// Left is the bytes the peer still needs, LeftUnknown if not given.
	Left   int64
	Event  Event
	Offers []Offer
	// Answer, when not nil, makes this an answer to the offer OfferID of
	// peer ToPeerID.
	Answer   json.RawMessage
	ToPeerID ID
	OfferID  ID
}

// IsAnswer reports whether r carries an answer.
func (r *Request) IsAnswer() bool { return r.Answer != nil }

func (r *Request) reset() {
	offers, hashes := r.Offers[:0], r.InfoHashes[:0]
	*r = Request{Offers: offers, InfoHashes: hashes, Left: LeftUnknown}
}

// field validity while decoding, checked in bittorrent-tracker's order once
// the whole message has been read (JSON keys come in any order).
type idState uint8

const (
	idAbsent idState = iota
	idValid
	idInvalid
	idArray // info_hash given as an array (scrape)
)

// DecodeRequest parses one message into r, reusing r's slices. It returns
// an error whose text is the failure reason bittorrent-tracker would send;
// errors.Is matches the package's sentinels. On error r is partly filled:
// r.Action and, when valid, r.InfoHash are set for the failure reply.
func DecodeRequest(data []byte, r *Request) error {
	r.reset()
	s := scanner{data: data}
	if s.peek() != '{' {
		if _, err := s.skipValue(); err != nil {
			return err
		}
		if err := s.end(); err != nil {
			return err
		}
		return ErrNotObject
	}
	var (
		actionRaw                      []byte
		ihState, peerState, toState    idState
		offerIDState                   idState
		answerRaw                      []byte
		offersErr                      error
		hashesErr                      error
		offerOK, offerIDOK, seenOfferK bool
	)
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
		case "info_hash":
			switch s.peek() {
			case '"':
				var err error
				ihState, err = readIDInto(&s, &r.InfoHash)
				r.InfoHashes = r.InfoHashes[:0]
				return err
			case '[':
				ihState = idArray
				r.InfoHashes = r.InfoHashes[:0]
				hashesErr = nil
				return s.eachElement(func() error {
					var id ID
					st, err := readIDInto(&s, &id)
					if err != nil {
						return err
					}
					if st != idValid {
						hashesErr = ErrInvalidInfoHash
						return nil
					}
					if len(r.InfoHashes) >= MaxScrapeHashes {
						hashesErr = ErrTooManyInfoHashes
						return nil
					}
					r.InfoHashes = append(r.InfoHashes, id)
					return nil
				})
			}
			ihState = idInvalid
			_, err := s.skipValue()
			return err
		case "peer_id":
			var err error
			peerState, err = readIDInto(&s, &r.PeerID)
			return err
		case "to_peer_id":
			var err error
			toState, err = readIDInto(&s, &r.ToPeerID)
			return err
		case "offer_id":
			var err error
			offerIDState, err = readIDInto(&s, &r.OfferID)
			return err
		case "answer":
			v, err := s.skipValue()
			answerRaw = v
			return err
		case "numwant", "uploaded", "downloaded", "left":
			v, err := s.skipValue()
			if err != nil {
				return err
			}
			f, ok := jsNumber(v)
			switch key[0] {
			case 'n':
				if ok {
					r.NumWant = int(toInt64(f))
				}
			case 'u':
				if ok {
					r.Uploaded = toInt64(f)
				}
			case 'd':
				if ok {
					r.Downloaded = toInt64(f)
				}
			case 'l':
				r.Left = LeftUnknown
				if ok {
					if f < 0 {
						f = 0
					}
					r.Left = toInt64(f)
				}
			}
			return nil
		case "event":
			v, err := s.skipValue()
			if err != nil {
				return err
			}
			r.Event = eventOf(v)
			return nil
		case "offers":
			r.Offers = r.Offers[:0]
			offersErr = nil
			if s.peek() != '[' {
				// Not an array: bittorrent-tracker relays nothing.
				_, err := s.skipValue()
				return err
			}
			return s.eachElement(func() error {
				if s.peek() != '{' {
					offersErr = ErrInvalidOffer
					_, err := s.skipValue()
					return err
				}
				if len(r.Offers) >= MaxOffers {
					offersErr = ErrTooManyOffers
					_, err := s.skipValue()
					return err
				}
				r.Offers = append(r.Offers, Offer{})
				o := &r.Offers[len(r.Offers)-1]
				offerOK, offerIDOK, seenOfferK = false, false, false
				err := s.eachMember(func(k []byte, esc bool) error {
					switch {
					case keyIs(k, esc, "offer"):
						v, err := s.skipValue()
						o.SDP = v
						seenOfferK = true
						offerOK = err == nil && string(v) != "null"
						return err
					case keyIs(k, esc, "offer_id"):
						st, err := readIDInto(&s, &o.ID)
						offerIDOK = st == idValid
						return err
					}
					_, err := s.skipValue()
					return err
				})
				if err != nil {
					return err
				}
				if offersErr == nil {
					switch {
					case !seenOfferK || !offerOK:
						offersErr = ErrInvalidOffer
					case !offerIDOK:
						offersErr = ErrInvalidOfferID
					}
				}
				return nil
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

	// Validate in the order bittorrent-tracker's parse-websocket.js does.
	switch {
	case string(actionRaw) == `"announce"`:
		r.Action = ActionAnnounce
	case string(actionRaw) == `"scrape"`:
		r.Action = ActionScrape
	default:
		return fmt.Errorf("%w: %s", ErrInvalidAction, describe(actionRaw))
	}
	if r.Action == ActionScrape {
		switch ihState {
		case idInvalid:
			return ErrInvalidInfoHash
		case idValid:
			r.InfoHashes = append(r.InfoHashes[:0], r.InfoHash)
		case idArray:
			if hashesErr != nil {
				return hashesErr
			}
		}
		return nil
	}
	if ihState != idValid {
		return ErrInvalidInfoHash
	}
	r.InfoHashes = r.InfoHashes[:0]
	if peerState != idValid {
		return ErrInvalidPeerID
	}
	if truthy(answerRaw) {
		r.Answer = answerRaw
		if toState != idValid {
			return ErrInvalidToPeerID
		}
		if offerIDState != idValid {
			return ErrInvalidOfferID
		}
	}
	return offersErr
}

// readIDInto reads a binary-string value (or skips any other value); the
// error is a syntax error only.
func readIDInto(s *scanner, id *ID) (idState, error) {
	if s.peek() != '"' {
		_, err := s.skipValue()
		return idInvalid, err
	}
	// decodeBinaryString takes only code points up to U+00FF, so it
	// rejects invalid UTF-8 too: check it only then, to tell the errors apart.
	raw, esc, nonASCII, err := s.readStringBytes()
	if err != nil {
		return idInvalid, err
	}
	if !decodeBinaryString(raw, esc, id) {
		if nonASCII && !utf8.Valid(raw) {
			return idInvalid, s.utf8Err()
		}
		return idInvalid, nil
	}
	return idValid, nil
}

func eventOf(v []byte) Event {
	if len(v) == 0 {
		return EventUpdate
	}
	if v[0] != '"' {
		if !truthy(v) {
			return EventUpdate // JavaScript: !params.event
		}
		return EventInvalid
	}
	inner := v[1 : len(v)-1]
	if len(inner) > 16 {
		return EventInvalid
	}
	var buf [32]byte
	return ParseEvent(string(appendUnquoted(buf[:0], inner)))
}

// describe renders a raw value as JavaScript's template string would.
func describe(raw []byte) string {
	switch {
	case len(raw) == 0:
		return "undefined"
	case raw[0] == '"':
		return string(appendUnquoted(nil, raw[1:len(raw)-1]))
	case raw[0] == '{':
		return "[object Object]"
	}
	if len(raw) > 64 {
		raw = raw[:64]
	}
	return string(raw)
}

// AppendJSON appends r as the JSON message a WebTorrent client sends:
// a scrape, an answer (when r.Answer is set), or an announce with offers.
// Left is omitted when LeftUnknown, Event when EventUpdate.
func (r *Request) AppendJSON(dst []byte) []byte {
	if r.Action == ActionScrape {
		dst = append(dst, `{"action":"scrape","info_hash":[`...)
		for i := range r.InfoHashes {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = r.InfoHashes[i].AppendJSON(dst)
		}
		return append(dst, "]}"...)
	}
	dst = append(dst, `{"action":"announce","info_hash":`...)
	dst = r.InfoHash.AppendJSON(dst)
	dst = append(dst, `,"peer_id":`...)
	dst = r.PeerID.AppendJSON(dst)
	if r.Answer != nil {
		dst = append(dst, `,"to_peer_id":`...)
		dst = r.ToPeerID.AppendJSON(dst)
		dst = append(dst, `,"answer":`...)
		dst = append(dst, r.Answer...)
		dst = append(dst, `,"offer_id":`...)
		dst = r.OfferID.AppendJSON(dst)
		return append(dst, '}')
	}
	dst = append(dst, `,"numwant":`...)
	dst = strconv.AppendInt(dst, int64(r.NumWant), 10)
	dst = append(dst, `,"uploaded":`...)
	dst = strconv.AppendInt(dst, r.Uploaded, 10)
	dst = append(dst, `,"downloaded":`...)
	dst = strconv.AppendInt(dst, r.Downloaded, 10)
	if r.Left != LeftUnknown {
		dst = append(dst, `,"left":`...)
		dst = strconv.AppendInt(dst, r.Left, 10)
	}
	if r.Event != EventUpdate && r.Event != EventInvalid {
		dst = append(dst, `,"event":"`...)
		dst = append(dst, r.Event.String()...)
		dst = append(dst, '"')
	}
	if len(r.Offers) > 0 {
		dst = append(dst, `,"offers":[`...)
		for i := range r.Offers {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"offer":`...)
			dst = append(dst, r.Offers[i].SDP...)
			dst = append(dst, `,"offer_id":`...)
			dst = r.Offers[i].ID.AppendJSON(dst)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}
