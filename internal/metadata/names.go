package metadata

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
)

// MaxTopicNameLength is Kafka's limit: a partition directory is "<topic>-<partition>" and
// must fit in 255 bytes with room for the partition number and a deletion suffix.
const MaxTopicNameLength = 249

// ValidateTopicName applies Kafka's rules for topic names: 1 to 249 characters from
// [a-zA-Z0-9._-], and neither "." nor "..". It returns an INVALID_TOPIC_EXCEPTION error.
func ValidateTopicName(name string) error {
	switch {
	case name == "":
		return errorf(kerr.InvalidTopicException, "Topic name is illegal, it can't be empty.")
	case name == "." || name == "..":
		return errorf(kerr.InvalidTopicException, "Topic name cannot be \".\" or \"..\".")
	case len(name) > MaxTopicNameLength:
		return errorf(kerr.InvalidTopicException,
			"Topic name is illegal, it can't be longer than %d characters, topic name: %s",
			MaxTopicNameLength, name)
	}
	for i := 0; i < len(name); i++ {
		if !legalTopicChar(name[i]) {
			return errorf(kerr.InvalidTopicException,
				"Topic name %q is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'",
				name)
		}
	}
	return nil
}

func legalTopicChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '-'
}

// collisionKey is the name under which two topics collide in Kafka's metric names, where
// '.' becomes '_': "a.b" and "a_b" cannot both exist. Names without '.' or '_' return "".
func collisionKey(name string) string {
	if !strings.ContainsAny(name, "._") {
		return ""
	}
	return strings.ReplaceAll(name, ".", "_")
}

// UUID is a Kafka UUID (a topic ID, an incarnation ID). It is assignable to and from
// [16]byte. Its text form is Kafka's: URL-safe base64 without padding, 22 characters.
type UUID [16]byte

// String returns Kafka's text form of u.
func (u UUID) String() string { return base64.RawURLEncoding.EncodeToString(u[:]) }

// IsZero reports whether u is the all-zero UUID, which Kafka uses to mean "no ID".
func (u UUID) IsZero() bool { return u == UUID{} }

// MarshalText encodes u in Kafka's text form (used by the JSON record bodies).
func (u UUID) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// UnmarshalText decodes Kafka's text form.
func (u *UUID) UnmarshalText(b []byte) error {
	id, err := ParseUUID(string(b))
	if err != nil {
		return err
	}
	*u = id
	return nil
}

// ParseUUID parses Kafka's text form of a UUID (22 characters of URL-safe base64).
func ParseUUID(s string) (UUID, error) {
	var u UUID
	if len(s) != 22 {
		return u, fmt.Errorf("parse uuid %q: want 22 characters, got %d", s, len(s))
	}
	n, err := base64.RawURLEncoding.Strict().Decode(u[:], []byte(s))
	if err != nil || n != 16 {
		return UUID{}, fmt.Errorf("parse uuid %q: not URL-safe base64 of 16 bytes", s)
	}
	return u, nil
}

// NewUUID returns a random version-4 UUID as Kafka generates them: never all-zero, never
// Kafka's reserved ID 1 (the metadata topic), and never one whose text form starts with
// '-', which command-line tools would take for a flag.
func NewUUID() UUID {
	for {
		var u UUID
		// crypto/rand.Read never returns an error (Go 1.24+); it crashes the program rather
		// than return predictable bytes.
		_, _ = rand.Read(u[:])
		u[6] = u[6]&0x0f | 0x40 // version 4
		u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
		if u.IsZero() || u == (UUID{15: 1}) || u.String()[0] == '-' {
			continue
		}
		return u
	}
}
