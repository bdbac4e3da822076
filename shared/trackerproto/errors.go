package trackerproto

import "errors"

// Errors returned by DecodeRequest. Their texts are the failure reasons
// bittorrent-tracker sends, so a tracker can put err.Error() on the wire.
var (
	// ErrSyntax is wrapped by errors for input that is not valid JSON.
	ErrSyntax = errors.New("invalid JSON")
	// ErrNotObject is returned for JSON that is not an object.
	ErrNotObject = errors.New("invalid request: not a JSON object")
	// ErrInvalidAction is wrapped by errors for an action other than
	// "announce" and "scrape".
	ErrInvalidAction = errors.New("invalid action in WS request")
	// ErrInvalidInfoHash is returned when info_hash is not a 20-byte binary string.
	ErrInvalidInfoHash = errors.New("invalid info_hash")
	// ErrInvalidPeerID is returned when peer_id is not a 20-byte binary string.
	ErrInvalidPeerID = errors.New("invalid peer_id")
	// ErrInvalidToPeerID is returned for an answer without a valid to_peer_id.
	ErrInvalidToPeerID = errors.New("invalid `to_peer_id` (required with `answer`)")
	// ErrInvalidOfferID is returned for an offer or answer whose offer_id is
	// not a 20-byte binary string.
	ErrInvalidOfferID = errors.New("invalid `offer_id`")
	// ErrInvalidOffer is returned when an element of offers is not an
	// object holding an offer.
	ErrInvalidOffer = errors.New("invalid offer")
	// ErrTooManyOffers is returned when offers has more than MaxOffers elements.
	ErrTooManyOffers = errors.New("too many offers")
	// ErrTooManyInfoHashes is returned when a scrape names more than
	// MaxScrapeHashes info hashes.
	ErrTooManyInfoHashes = errors.New("too many info_hash values")
	// ErrInvalidResponse is returned by DecodeResponse for a message that is
	// not a tracker response.
	ErrInvalidResponse = errors.New("invalid tracker response")
)
