package metadata

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func testCredential(b byte) ScramCredential {
	return ScramCredential{Salt: []byte{b, 1}, StoredKey: []byte{b, 2}, ServerKey: []byte{b, 3}, Iterations: 4096}
}

// TestScramCredentials sets, replaces and removes credentials through the Store, and
// checks that a removal of a missing credential rejects its whole batch.
func TestScramCredentials(t *testing.T) {
	s := openWithBroker(t, testConfig(t, t.TempDir()))
	ctx := context.Background()
	before := s.Image()
	err := s.AlterScramCredentials(ctx, []ScramChange{
		{User: "alice", Mechanism: ScramSHA256, Credential: testCredential(1)},
		{User: "alice", Mechanism: ScramSHA512, Credential: testCredential(2)},
		{User: "bob", Mechanism: ScramSHA512, Credential: testCredential(3)},
	})
	if err != nil {
		t.Fatal(err)
	}
	img := s.Image()
	if got, ok := img.ScramCredential("alice", ScramSHA512); !ok || !reflect.DeepEqual(got, testCredential(2)) {
		t.Errorf("alice SHA-512: %+v %v", got, ok)
	}
	if got := img.ScramUsers(); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Errorf("users %v", got)
	}
	if len(before.ScramCredentials) != 0 {
		t.Error("an earlier image changed")
	}

	err = s.AlterScramCredentials(ctx, []ScramChange{
		{User: "alice", Mechanism: ScramSHA256, Delete: true},
		{User: "carol", Mechanism: ScramSHA256, Delete: true},
	})
	if !errors.Is(err, kerr.ResourceNotFound) {
		t.Fatalf("removing a missing credential: %v, want RESOURCE_NOT_FOUND", err)
	}
	if _, ok := s.Image().ScramCredential("alice", ScramSHA256); !ok {
		t.Fatal("a rejected batch removed a credential")
	}
	if err := s.AlterScramCredentials(ctx, []ScramChange{
		{User: "alice", Mechanism: ScramSHA256, Delete: true},
		{User: "bob", Mechanism: ScramSHA512, Credential: testCredential(9)},
	}); err != nil {
		t.Fatal(err)
	}
	img = s.Image()
	if _, ok := img.ScramCredential("alice", ScramSHA256); ok {
		t.Error("alice's SHA-256 credential is still there")
	}
	if got, _ := img.ScramCredential("bob", ScramSHA512); !reflect.DeepEqual(got, testCredential(9)) {
		t.Errorf("bob's credential was not replaced: %+v", got)
	}
	for _, bad := range []ScramChange{
		{User: "", Mechanism: ScramSHA256, Credential: testCredential(1)},
		{User: "x", Mechanism: 3, Credential: testCredential(1)},
		{User: "x", Mechanism: ScramSHA256},
	} {
		if err := s.AlterScramCredentials(ctx, []ScramChange{bad}); err == nil {
			t.Errorf("%+v was accepted", bad)
		}
	}
}

// TestACLs creates and deletes bindings through the Store; creating one twice or deleting
// a missing one changes nothing and is no error.
func TestACLs(t *testing.T) {
	s := openWithBroker(t, testConfig(t, t.TempDir()))
	ctx := context.Background()
	read := ACL{ResourceType: 2, ResourceName: "orders", PatternType: 3, Principal: "User:alice", Host: "*", Operation: 3, Permission: 3}
	write := read
	write.Operation = 4
	deny := ACL{ResourceType: 3, ResourceName: "g", PatternType: 4, Principal: "User:*", Host: "10.0.0.1", Operation: 2, Permission: 2}
	if err := s.AlterACLs(ctx, []ACL{read, write, deny, read}, nil); err != nil {
		t.Fatal(err)
	}
	if got := s.Image().ACLList(); !slices.Equal(got, []ACL{read, write, deny}) {
		t.Errorf("ACLs %v", got)
	}
	if err := s.AlterACLs(ctx, []ACL{read}, []ACL{write, {ResourceType: 2, ResourceName: "none", PatternType: 3, Principal: "User:a", Host: "*", Operation: 3, Permission: 3}}); err != nil {
		t.Fatal(err)
	}
	if got := s.Image().ACLList(); !slices.Equal(got, []ACL{read, deny}) {
		t.Errorf("ACLs after delete %v", got)
	}
	bad := read
	bad.Principal = ""
	if err := s.AlterACLs(ctx, []ACL{bad}, nil); !errors.Is(err, kerr.InvalidRequest) {
		t.Errorf("binding without principal: %v", err)
	}
}

// TestSecuritySnapshot checks that credentials and ACLs survive a snapshot.
func TestSecuritySnapshot(t *testing.T) {
	img := emptyImage()
	b := newBuilder(img, false)
	for _, r := range []Record{
		&UserScramCredentialRecord{Name: "alice", Mechanism: ScramSHA256, Salt: []byte("s"), StoredKey: []byte("k"), ServerKey: []byte("v"), Iterations: 8192},
		&UserScramCredentialRecord{Name: "alice", Mechanism: ScramSHA512, Salt: []byte("t"), StoredKey: []byte("l"), ServerKey: []byte("w"), Iterations: 4096},
		&AccessControlEntryRecord{ResourceType: 2, ResourceName: "t", PatternType: 4, Principal: "User:a", Host: "*", Operation: 2, Permission: 3},
	} {
		if err := b.apply(r, 5); err != nil {
			t.Fatal(err)
		}
	}
	want := &b.img
	want.Offset = 5
	got, err := decodeSnapshot(mustEncodeSnapshot(t, want))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.ScramCredentials, want.ScramCredentials) || !reflect.DeepEqual(got.ACLs, want.ACLs) {
		t.Fatalf("restored credentials %+v ACLs %+v, want %+v %+v", got.ScramCredentials, got.ACLs, want.ScramCredentials, want.ACLs)
	}
}

// TestClientQuotas sets and removes client quotas through the Store; they survive a
// snapshot, and an entity whose last key is removed disappears.
func TestClientQuotas(t *testing.T) {
	s := openWithBroker(t, testConfig(t, t.TempDir()))
	ctx := context.Background()
	alice := QuotaEntity{User: QuotaPart{Present: true, Name: "alice"}}
	anyClient := QuotaEntity{ClientID: QuotaPart{Present: true, Default: true}}
	if err := s.AlterClientQuotas(ctx, []ClientQuotaRecord{
		{Entity: alice, Key: "producer_byte_rate", Value: 1 << 20},
		{Entity: alice, Key: "consumer_byte_rate", Value: 2 << 20},
		{Entity: anyClient, Key: "request_percentage", Value: 50},
	}); err != nil {
		t.Fatal(err)
	}
	img := s.Image()
	if got := img.ClientQuotas[alice]; len(got) != 2 || got["producer_byte_rate"] != 1<<20 {
		t.Errorf("alice's quotas %v", got)
	}
	restored, err := decodeSnapshot(mustEncodeSnapshot(t, img))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(restored.ClientQuotas, img.ClientQuotas) {
		t.Errorf("restored quotas %v, want %v", restored.ClientQuotas, img.ClientQuotas)
	}
	if err := s.AlterClientQuotas(ctx, []ClientQuotaRecord{
		{Entity: anyClient, Key: "request_percentage", Remove: true},
		{Entity: alice, Key: "consumer_byte_rate", Remove: true},
	}); err != nil {
		t.Fatal(err)
	}
	img2 := s.Image()
	if _, ok := img2.ClientQuotas[anyClient]; ok || len(img2.ClientQuotas[alice]) != 1 {
		t.Errorf("after removals: %v", img2.ClientQuotas)
	}
	if len(img.ClientQuotas[alice]) != 2 {
		t.Error("an earlier image changed")
	}
	if err := s.AlterClientQuotas(ctx, []ClientQuotaRecord{{Key: "producer_byte_rate", Value: 1}}); !errors.Is(err, kerr.InvalidRequest) {
		t.Errorf("quota without an entity: %v", err)
	}
}
