package gateway

import "strings"

// get returns the first value of a header, trimmed.
func (s *scan) get(name string) string {
	return strings.TrimSpace(s.h.Get(name))
}

// containsToken reports whether a Via-style list holds word as a whole
// token (so "google" does not match "googleusercontent").
func containsToken(list, word string) bool {
	for list != "" {
		i := strings.Index(list, word)
		if i < 0 {
			return false
		}
		end := i + len(word)
		before := i == 0 || !isWordByte(list[i-1])
		after := end == len(list) || !isWordByte(list[end])
		if before && after {
			return true
		}
		list = list[end:]
	}
	return false
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_'
}

// lowerASCII lower-cases ASCII letters only, allocating only when needed.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
