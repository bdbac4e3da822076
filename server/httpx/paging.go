package httpx

import (
	"fmt"
	"net/http"
	"strconv"
)

// Paging of every list of the API (API.md: GET /api/v1/videos?start=&count=):
// start is the index of the first item (0 when absent), count how many
// items at most (DefaultCount when absent). The answer's "total" is the
// length of the whole list.
const (
	DefaultCount = 20
	MaxCount     = 100
	MaxStart     = 1_000_000
)

// ErrBadPaging refuses a start or count that is not one whole number in
// its range.
var ErrBadPaging = &Error{Status: http.StatusBadRequest, Code: "invalid_paging",
	Message: fmt.Sprintf("start must be a whole number from 0 to %d and count one from 1 to %d, each given once", MaxStart, MaxCount)}

// ParsePaging reads start and count from r's query, the one reading every
// list route shares, so each pages alike: ErrBadPaging for a value that is
// not one whole number in its range, none quietly clamped.
func ParsePaging(r *http.Request) (start, count int, err error) {
	start, count = 0, DefaultCount
	q := r.URL.Query()
	if v, ok := q["start"]; ok {
		if len(v) != 1 {
			return 0, 0, ErrBadPaging
		}
		if start, err = strconv.Atoi(v[0]); err != nil || start < 0 || start > MaxStart {
			return 0, 0, ErrBadPaging
		}
	}
	if v, ok := q["count"]; ok {
		if len(v) != 1 {
			return 0, 0, ErrBadPaging
		}
		if count, err = strconv.Atoi(v[0]); err != nil || count < 1 || count > MaxCount {
			return 0, 0, ErrBadPaging
		}
	}
	return start, count, nil
}

// Page returns the items of all from start, at most count of them, and
// the whole list's length, its "total". The page is never nil, so it
// encodes as [] past the end.
func Page[T any](all []T, start, count int) (page []T, total int) {
	total = len(all)
	start = min(start, total)
	end := min(start+count, total)
	return append(make([]T, 0, end-start), all[start:end]...), total
}
