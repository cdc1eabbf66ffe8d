package metadata

import (
	"cmp"
	"context"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// SCRAM credentials (KIP-554) live in the metadata log, as in KRaft: every broker
// authenticates SCRAM clients from its own image, and AlterUserScramCredentials changes
// them with UserScramCredentialRecord and RemoveUserScramCredentialRecord.

// SCRAM mechanisms, with Kafka's codes.
const (
	ScramSHA256 int8 = 1
	ScramSHA512 int8 = 2
)

// ScramKey names one credential: a user and a mechanism.
type ScramKey struct {
	User      string
	Mechanism int8
}

// ScramCredential is what the server keeps of a SCRAM password (never the password).
type ScramCredential struct {
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
	Iterations int32
}

// UserScramCredentialRecord sets a user's credential for one mechanism, replacing any.
type UserScramCredentialRecord struct {
	Name       string `json:"name"`
	Mechanism  int8   `json:"mechanism"`
	Salt       []byte `json:"salt"`
	StoredKey  []byte `json:"storedKey"`
	ServerKey  []byte `json:"serverKey"`
	Iterations int32  `json:"iterations"`
}

// RemoveUserScramCredentialRecord removes a user's credential for one mechanism.
type RemoveUserScramCredentialRecord struct {
	Name      string `json:"name"`
	Mechanism int8   `json:"mechanism"`
}

func (*UserScramCredentialRecord) Type() RecordType       { return UserScramCredentialRecordType }
func (*RemoveUserScramCredentialRecord) Type() RecordType { return RemoveUserScramCredentialRecordType }
func (*UserScramCredentialRecord) Version() uint16        { return 0 }
func (*RemoveUserScramCredentialRecord) Version() uint16  { return 0 }

// ScramCredential returns a user's credential for a mechanism.
func (img *Image) ScramCredential(user string, mechanism int8) (ScramCredential, bool) {
	c, ok := img.ScramCredentials[ScramKey{user, mechanism}]
	return c, ok
}

// ScramUsers returns the users with at least one credential, sorted.
func (img *Image) ScramUsers() []string {
	var users []string
	for k := range img.ScramCredentials {
		users = append(users, k.User)
	}
	slices.Sort(users)
	return slices.Compact(users)
}

// ScramChange is one credential to set or, with Delete, to remove.
type ScramChange struct {
	User       string
	Mechanism  int8
	Delete     bool
	Credential ScramCredential // when !Delete
}

// AlterScramCredentials applies changes together, in one log entry: all or none. Removing
// a credential that does not exist is RESOURCE_NOT_FOUND; the caller plans against the
// image (sasl.PlanAlter) so that only a concurrent change can cause it.
func (s *Store) AlterScramCredentials(ctx context.Context, changes []ScramChange) error {
	if len(changes) == 0 {
		return nil
	}
	recs := make([]Record, 0, len(changes))
	for _, c := range changes {
		if c.Delete {
			recs = append(recs, &RemoveUserScramCredentialRecord{Name: c.User, Mechanism: c.Mechanism})
			continue
		}
		recs = append(recs, &UserScramCredentialRecord{
			Name: c.User, Mechanism: c.Mechanism, Iterations: c.Credential.Iterations,
			Salt: c.Credential.Salt, StoredKey: c.Credential.StoredKey, ServerKey: c.Credential.ServerKey,
		})
	}
	ctx, unlock, lerr := s.lockPropose(ctx)
	if lerr != nil {
		return lerr
	}
	defer unlock()
	_, err := s.propose(ctx, recs)
	return err
}

func validScramMechanism(m int8) bool { return m == ScramSHA256 || m == ScramSHA512 }

func (b *builder) applyUserScramCredential(r *UserScramCredentialRecord) error {
	switch {
	case r.Name == "":
		return errorf(kerr.UnacceptableCredential, "SCRAM credential without a user name")
	case !validScramMechanism(r.Mechanism):
		return errorf(kerr.UnsupportedSaslMechanism, "user %q: unknown SCRAM mechanism %d", r.Name, r.Mechanism)
	case r.Iterations <= 0 || len(r.Salt) == 0 || len(r.StoredKey) == 0 || len(r.ServerKey) == 0:
		return errorf(kerr.UnacceptableCredential, "user %q: incomplete SCRAM credential", r.Name)
	}
	b.scram()[ScramKey{r.Name, r.Mechanism}] = ScramCredential{
		Salt: slices.Clone(r.Salt), StoredKey: slices.Clone(r.StoredKey), ServerKey: slices.Clone(r.ServerKey),
		Iterations: r.Iterations,
	}
	return nil
}

func (b *builder) applyRemoveUserScramCredential(r *RemoveUserScramCredentialRecord) error {
	k := ScramKey{r.Name, r.Mechanism}
	if _, ok := b.img.ScramCredentials[k]; !ok {
		return errorf(kerr.ResourceNotFound, "user %q has no %d SCRAM credential to remove", r.Name, r.Mechanism)
	}
	delete(b.scram(), k)
	return nil
}

// scram returns the credential map this batch may change.
func (b *builder) scram() map[ScramKey]ScramCredential {
	if !b.ownScram {
		b.img.ScramCredentials = maps.Clone(b.img.ScramCredentials)
		if b.img.ScramCredentials == nil {
			b.img.ScramCredentials = map[ScramKey]ScramCredential{}
		}
		b.ownScram = true
	}
	return b.img.ScramCredentials
}

// scramRecords are the records of every credential, for a snapshot, in a fixed order.
func (img *Image) scramRecords() []Record {
	keys := slices.SortedFunc(maps.Keys(img.ScramCredentials), func(a, b ScramKey) int {
		return cmp.Or(cmp.Compare(a.User, b.User), cmp.Compare(a.Mechanism, b.Mechanism))
	})
	recs := make([]Record, 0, len(keys))
	for _, k := range keys {
		c := img.ScramCredentials[k]
		recs = append(recs, &UserScramCredentialRecord{
			Name: k.User, Mechanism: k.Mechanism, Salt: c.Salt, StoredKey: c.StoredKey, ServerKey: c.ServerKey, Iterations: c.Iterations,
		})
	}
	return recs
}
