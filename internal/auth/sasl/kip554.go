package sasl

import (
	"fmt"
	"io"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ScramUserLister is a credential store that can list its users, for
// DescribeUserScramCredentials without a user list.
type ScramUserLister interface {
	ScramCredentials
	ScramUsers() []string
}

// ScramChange is one record AlterUserScramCredentials writes: a credential to store
// (UserScramCredentialRecord) or, when Delete, one to remove
// (RemoveUserScramCredentialRecord).
type ScramChange struct {
	User       string
	Mechanism  ScramMechanism
	Delete     bool
	Credential ScramCredential // when !Delete
}

// PlanAlter checks an AlterUserScramCredentials request against store, as Kafka's
// controller does, and returns one result per user named in the request (in the order the
// users first appear) and the changes to write for the users whose alterations are valid.
//
// A user altered twice in one request (two deletions, two upsertions, or one of each, of any
// mechanisms) gets DUPLICATE_RESOURCE and none of its alterations apply. An empty name or
// too few or too many iterations (4096..16384) get UNACCEPTABLE_CREDENTIAL, an unknown
// mechanism UNSUPPORTED_SASL_MECHANISM, and the deletion of a credential that does not exist
// RESOURCE_NOT_FOUND. Sluice also refuses an empty salt or salted password
// (UNACCEPTABLE_CREDENTIAL), which no Kafka tool sends.
func PlanAlter(store ScramCredentials, req *kmsg.AlterUserSCRAMCredentialsRequest) ([]kmsg.AlterUserSCRAMCredentialsResponseResult, []ScramChange) {
	type alteration struct {
		del *kmsg.AlterUserSCRAMCredentialsRequestDeletion
		up  *kmsg.AlterUserSCRAMCredentialsRequestUpsertion
		err *kerr.Error
		msg string
	}
	var order []string
	alts := make(map[string]*alteration)
	add := func(name string, a alteration) {
		prev, ok := alts[name]
		if !ok {
			order = append(order, name)
			alts[name] = &a
			return
		}
		if prev.err == nil {
			*prev = alteration{err: kerr.DuplicateResource, msg: "A user credential cannot be altered twice in the same request"}
		}
	}
	for i := range req.Deletions {
		add(req.Deletions[i].Name, alteration{del: &req.Deletions[i]})
	}
	for i := range req.Upsertions {
		add(req.Upsertions[i].Name, alteration{up: &req.Upsertions[i]})
	}

	results := make([]kmsg.AlterUserSCRAMCredentialsResponseResult, 0, len(order))
	var changes []ScramChange
	for _, name := range order {
		a := alts[name]
		if a.err == nil {
			var c ScramChange
			c, a.err, a.msg = checkAlteration(store, name, a.del, a.up)
			if a.err == nil {
				changes = append(changes, c)
			}
		}
		r := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		r.User = name
		if a.err != nil {
			msg := a.msg
			r.ErrorCode, r.ErrorMessage = a.err.Code, &msg
		}
		results = append(results, r)
	}
	return results, changes
}

func checkAlteration(store ScramCredentials, name string, del *kmsg.AlterUserSCRAMCredentialsRequestDeletion,
	up *kmsg.AlterUserSCRAMCredentialsRequestUpsertion) (ScramChange, *kerr.Error, string) {
	var mech ScramMechanism
	if del != nil {
		mech = ScramMechanism(del.Mechanism)
	} else {
		mech = ScramMechanism(up.Mechanism)
	}
	if name == "" {
		return ScramChange{}, kerr.UnacceptableCredential, "Username must not be empty"
	}
	if !mech.Valid() {
		return ScramChange{}, kerr.UnsupportedSaslMechanism, "Unknown SCRAM mechanism"
	}
	if del != nil {
		if _, ok := store.ScramCredential(name, mech); !ok {
			return ScramChange{}, kerr.ResourceNotFound, "Attempt to delete a user credential that does not exist"
		}
		return ScramChange{User: name, Mechanism: mech, Delete: true}, nil, ""
	}
	if err := checkIterations(up.Iterations); err != nil {
		return ScramChange{}, kerr.UnacceptableCredential, err.Error()
	}
	if len(up.Salt) == 0 || len(up.SaltedPassword) == 0 {
		return ScramChange{}, kerr.UnacceptableCredential, "Salt and salted password must not be empty"
	}
	return ScramChange{
		User:       name,
		Mechanism:  mech,
		Credential: CredentialFromSaltedPassword(mech, up.Salt, up.SaltedPassword, up.Iterations),
	}, nil, ""
}

// Describe answers DescribeUserScramCredentials from store: each user named (every user
// with a credential when none is named, sorted) with the mechanisms and iterations of its
// credentials; RESOURCE_NOT_FOUND for a user without any, DUPLICATE_RESOURCE for a user named
// twice. Salts and keys are never described.
func Describe(store ScramUserLister, req *kmsg.DescribeUserSCRAMCredentialsRequest) []kmsg.DescribeUserSCRAMCredentialsResponseResult {
	var users []string
	dup := make(map[string]bool)
	if len(req.Users) == 0 {
		users = store.ScramUsers()
		slices.Sort(users)
	} else {
		for _, u := range req.Users {
			if _, seen := dup[u.Name]; seen {
				dup[u.Name] = true
				continue
			}
			dup[u.Name] = false
			users = append(users, u.Name)
		}
	}
	results := make([]kmsg.DescribeUserSCRAMCredentialsResponseResult, 0, len(users))
	for _, u := range users {
		r := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		r.User = u
		if dup[u] {
			msg := fmt.Sprintf("Cannot describe SCRAM credentials for the same user twice in a single request: %s", u)
			r.ErrorCode, r.ErrorMessage = kerr.DuplicateResource.Code, &msg
			results = append(results, r)
			continue
		}
		for _, m := range []ScramMechanism{MechanismSHA256, MechanismSHA512} {
			if c, ok := store.ScramCredential(u, m); ok {
				info := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
				info.Mechanism, info.Iterations = int8(m), c.Iterations
				r.CredentialInfos = append(r.CredentialInfos, info)
			}
		}
		if len(r.CredentialInfos) == 0 {
			msg := fmt.Sprintf("Attempt to describe a user credential that does not exist: %s", u)
			r.ErrorCode, r.ErrorMessage = kerr.ResourceNotFound.Code, &msg
		}
		results = append(results, r)
	}
	return results
}

// NewUpsertion builds the AlterUserScramCredentials upsertion for a password, with a fresh
// random salt from r (crypto/rand when nil): what a CLI sends to set a user's password.
func NewUpsertion(user string, m ScramMechanism, password string, iterations int, r io.Reader) (kmsg.AlterUserSCRAMCredentialsRequestUpsertion, error) {
	up := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
	if iterations < MinIterations || iterations > MaxIterations {
		return up, fmt.Errorf("scram: iterations %d outside %d..%d", iterations, MinIterations, MaxIterations)
	}
	salt, err := NewSalt(r)
	if err != nil {
		return up, err
	}
	sp, err := SaltedPassword(m, password, salt, iterations)
	if err != nil {
		return up, err
	}
	up.Name, up.Mechanism, up.Iterations, up.Salt, up.SaltedPassword = user, int8(m), int32(iterations), salt, sp
	return up, nil
}
