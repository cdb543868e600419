package handlers

import (
	"bytes"
	"errors"
	"fmt"
)

// splitArray returns the elements of the JSON array b (trimmed) exactly as
// sent, for the content hash. It follows only strings and nesting:
// decodeEvent checks each element, and valid JSON values joined by commas
// in brackets make a valid array. Splitting first bounds the work on an
// oversized batch before anything is decoded.
func splitArray(b []byte) ([][]byte, error) {
	var elems [][]byte
	for i := 1; ; i++ { // b[i-1] is '[' or ','
		start, depth := i, 0
	scan:
		for ; i < len(b); i++ {
			switch c := b[i]; {
			case c == '"': // jump to the quote that is not escaped
				for i++; i < len(b); i++ {
					j := bytes.IndexByte(b[i:], '"')
					if j < 0 {
						return nil, errors.New("unterminated array")
					}
					i += j
					k := i
					for b[k-1] == '\\' {
						k--
					}
					if (i-k)%2 == 0 {
						break
					}
				}
			case c == '{' || c == '[':
				depth++
			case depth > 0 && (c == '}' || c == ']'):
				depth--
			case depth == 0 && (c == ',' || c == ']'):
				break scan
			}
		}
		if i >= len(b) {
			return nil, errors.New("unterminated array")
		}
		elem := bytes.Trim(b[start:i], jsonSpace)
		switch {
		case len(elem) > 0:
			elems = append(elems, elem)
		case len(elems) == 0 && b[i] == ']':
			return nil, errors.New("empty array")
		default:
			return nil, fmt.Errorf("event %d: missing", len(elems))
		}
		if len(elems) > maxEvents {
			return nil, fmt.Errorf("more than %d events", maxEvents)
		}
		if b[i] == ']' {
			if i+1 < len(b) {
				return nil, errors.New("invalid JSON after the array")
			}
			return elems, nil
		}
	}
}
