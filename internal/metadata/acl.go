package metadata

import (
	"cmp"
	"context"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// ACL bindings live in the metadata log, as in KRaft's StandardAuthorizer: CreateAcls and
// DeleteAcls write AccessControlEntryRecord and RemoveAccessControlEntryRecord, and every
// broker rebuilds its authorizer from its own image. The codes are Kafka's (kmsg's
// ACLResourceType, ACLResourcePatternType, ACLOperation and ACLPermissionType); the
// authorizer (internal/auth/acl) validates bindings before they are written, so the state
// machine checks only what keeps the image sane.

// ACL is one binding. It is comparable: two equal values are one ACL.
type ACL struct {
	ResourceType int8
	ResourceName string
	PatternType  int8
	Principal    string
	Host         string
	Operation    int8
	Permission   int8
}

// AccessControlEntryRecord creates a binding; one that exists already is left as it is.
type AccessControlEntryRecord struct {
	ResourceType int8   `json:"resourceType"`
	ResourceName string `json:"resourceName"`
	PatternType  int8   `json:"patternType"`
	Principal    string `json:"principal"`
	Host         string `json:"host"`
	Operation    int8   `json:"operation"`
	Permission   int8   `json:"permission"`
}

// RemoveAccessControlEntryRecord deletes a binding; one that does not exist is no error,
// since two DeleteAcls may match the same binding.
type RemoveAccessControlEntryRecord AccessControlEntryRecord

func (*AccessControlEntryRecord) Type() RecordType       { return AccessControlEntryRecordType }
func (*RemoveAccessControlEntryRecord) Type() RecordType { return RemoveAccessControlEntryRecordType }
func (*AccessControlEntryRecord) Version() uint16        { return 0 }
func (*RemoveAccessControlEntryRecord) Version() uint16  { return 0 }

func (r *AccessControlEntryRecord) acl() ACL {
	return ACL{r.ResourceType, r.ResourceName, r.PatternType, r.Principal, r.Host, r.Operation, r.Permission}
}

func aclRecord(a ACL) AccessControlEntryRecord {
	return AccessControlEntryRecord{a.ResourceType, a.ResourceName, a.PatternType, a.Principal, a.Host, a.Operation, a.Permission}
}

// ACLList returns every binding, sorted.
func (img *Image) ACLList() []ACL {
	return slices.SortedFunc(maps.Keys(img.ACLs), compareACLs)
}

func compareACLs(a, b ACL) int {
	return cmp.Or(
		cmp.Compare(a.ResourceType, b.ResourceType), cmp.Compare(a.PatternType, b.PatternType),
		cmp.Compare(a.ResourceName, b.ResourceName), cmp.Compare(a.Principal, b.Principal),
		cmp.Compare(a.Host, b.Host), cmp.Compare(a.Operation, b.Operation), cmp.Compare(a.Permission, b.Permission),
	)
}

// AlterACLs creates add and deletes remove, together in one log entry.
func (s *Store) AlterACLs(ctx context.Context, add, remove []ACL) error {
	if len(add)+len(remove) == 0 {
		return nil
	}
	recs := make([]Record, 0, len(add)+len(remove))
	for _, a := range add {
		r := aclRecord(a)
		recs = append(recs, &r)
	}
	for _, a := range remove {
		r := RemoveAccessControlEntryRecord(aclRecord(a))
		recs = append(recs, &r)
	}
	ctx, unlock, lerr := s.lockPropose(ctx)
	if lerr != nil {
		return lerr
	}
	defer unlock()
	_, err := s.propose(ctx, recs)
	return err
}

func (b *builder) applyAccessControlEntry(r *AccessControlEntryRecord) error {
	if r.ResourceName == "" || r.Principal == "" || r.Host == "" {
		return errorf(kerr.InvalidRequest, "ACL binding with an empty resource name, principal or host")
	}
	a := r.acl()
	if _, ok := b.img.ACLs[a]; !ok {
		b.acls()[a] = struct{}{}
	}
	return nil
}

func (b *builder) applyRemoveAccessControlEntry(r *RemoveAccessControlEntryRecord) error {
	a := (*AccessControlEntryRecord)(r).acl()
	if _, ok := b.img.ACLs[a]; ok {
		delete(b.acls(), a)
	}
	return nil
}

// acls returns the binding set this batch may change.
func (b *builder) acls() map[ACL]struct{} {
	if !b.ownACLs {
		b.img.ACLs = maps.Clone(b.img.ACLs)
		if b.img.ACLs == nil {
			b.img.ACLs = map[ACL]struct{}{}
		}
		b.ownACLs = true
	}
	return b.img.ACLs
}

// aclRecords are the records of every binding, for a snapshot.
func (img *Image) aclRecords() []Record {
	list := img.ACLList()
	recs := make([]Record, 0, len(list))
	for _, a := range list {
		r := aclRecord(a)
		recs = append(recs, &r)
	}
	return recs
}
