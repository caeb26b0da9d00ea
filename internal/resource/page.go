package resource

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strconv"
)

// DefaultMaxResults is the page size when a request gives none.
const DefaultMaxResults = 1000

// Page is the maxResults/nextToken pair of a List operation; it decodes
// from a JSON body (ListAgents, ListPrompts send POST bodies on some
// operations) or from the query (PageFromQuery).
type Page struct {
	MaxResults int    `json:"maxResults,omitempty"`
	NextToken  string `json:"nextToken,omitempty"`
}

// PageFromQuery reads maxResults and nextToken from a request's query.
func PageFromQuery(q url.Values) (Page, error) {
	p := Page{NextToken: q.Get("nextToken")}
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return p, Invalid("maxResults", "Member must have value between 1 and 1000")
		}
		p.MaxResults = n
	}
	return p, p.Validate()
}

// Validate checks the page: maxResults 0 (default) or 1…1000, and a token
// no longer than 2048 characters.
func (p Page) Validate() error {
	if p.MaxResults != 0 {
		if err := Range("maxResults", p.MaxResults, 1, 1000); err != nil {
			return err
		}
	}
	if len(p.NextToken) > 2048 {
		return Invalid("nextToken", "Member must have length between 1 and 2048")
	}
	return nil
}

func (p Page) size() int {
	if p.MaxResults <= 0 || p.MaxResults > DefaultMaxResults {
		return DefaultMaxResults
	}
	return p.MaxResults
}

// cursor is the position after which a page starts: the last item of the
// previous page, by (id, version number).
type cursor struct {
	ID string `json:"i"`
	V  int64  `json:"v"`
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(tok string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || json.Unmarshal(b, &c) != nil || c.V < 0 {
		return c, Invalid("nextToken", "Member must be a token returned by a previous call")
	}
	return c, nil
}
