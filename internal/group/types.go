package group

import "time"

// The coordinator's requests and results are plain structs: the API layer
// translates each Kafka version to and from them, so the state machine knows
// nothing of wire versions. Errors are *kerr.Error values (or wrap one).

// Protocol is one assignment protocol a member supports, with its metadata
// (for consumers, a ConsumerMemberMetadata: the subscription).
type Protocol struct {
	Name     string
	Metadata []byte
}

// JoinRequest is a JoinGroup.
type JoinRequest struct {
	Group      string
	MemberID   string // "" on a first join
	InstanceID *string
	ClientID   string
	ClientHost string
	// SessionTimeout and RebalanceTimeout as the member asked (JoinGroup
	// v0 has no rebalance timeout: pass the session timeout).
	SessionTimeout   time.Duration
	RebalanceTimeout time.Duration
	ProtocolType     string
	Protocols        []Protocol
	// RequireKnownMemberID is set from JoinGroup v4 (KIP-394): a dynamic
	// member's first join is answered MEMBER_ID_REQUIRED with its id.
	RequireKnownMemberID bool
	// SupportsSkipAssignment is set from JoinGroup v9 (KIP-814).
	SupportsSkipAssignment bool
	Reason                 string
}

// JoinMember is a member as the leader sees it in its JoinGroup answer.
type JoinMember struct {
	MemberID   string
	InstanceID *string
	Metadata   []byte
}

// JoinResult answers a JoinGroup.
type JoinResult struct {
	Err            error
	MemberID       string
	Generation     int32
	ProtocolType   *string
	Protocol       *string
	Leader         string
	SkipAssignment bool
	// Members is set for the leader only: every member with its metadata
	// for the chosen protocol.
	Members []JoinMember
}

// Assignment is what the leader assigned one member.
type Assignment struct {
	MemberID   string
	Assignment []byte
}

// SyncRequest is a SyncGroup.
type SyncRequest struct {
	Group        string
	Generation   int32
	MemberID     string
	InstanceID   *string
	ProtocolType *string // v5+
	Protocol     *string // v5+
	Assignments  []Assignment
}

// SyncResult answers a SyncGroup.
type SyncResult struct {
	Err          error
	ProtocolType *string
	Protocol     *string
	Assignment   []byte
}

// HeartbeatRequest is a Heartbeat.
type HeartbeatRequest struct {
	Group      string
	Generation int32
	MemberID   string
	InstanceID *string
}

// LeaveMember is one member of a LeaveGroup: by member id, or (v3+, with an
// empty member id) by instance id, as admin clients remove static members.
type LeaveMember struct {
	MemberID   string
	InstanceID *string
	Reason     string
}

// CommitOffset is one partition of an OffsetCommit.
type CommitOffset struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    *string
}

// CommitRequest is an OffsetCommit.
type CommitRequest struct {
	Group      string
	Generation int32 // -1: a commit from outside the group protocol
	MemberID   string
	InstanceID *string
	// Retention is OffsetCommit v2-4's retention time; negative means the
	// broker's offsets.retention.minutes.
	Retention time.Duration
	Offsets   []CommitOffset
	// GroupIDNotFound is set from OffsetCommit v9: a commit with a
	// generation for a group that does not exist gets GROUP_ID_NOT_FOUND
	// instead of ILLEGAL_GENERATION.
	GroupIDNotFound bool
}

// TxnCommitRequest is a TxnOffsetCommit: offsets committed inside the
// producer's transaction, visible only once it commits.
type TxnCommitRequest struct {
	TransactionalID string
	Group           string
	ProducerID      int64
	ProducerEpoch   int16
	// Generation, MemberID and InstanceID come from v3 (KIP-447): the
	// consumer's group metadata, checked as OffsetCommit checks them.
	// Below v3, Generation is -1 and MemberID empty: nothing is checked.
	Generation int32
	MemberID   string
	InstanceID *string
	Offsets    []CommitOffset
}

// TopicPartitions names partitions of one topic.
type TopicPartitions struct {
	Topic      string
	Partitions []int32
}

// FetchedOffset is one partition of an OffsetFetch answer. A partition
// without a committed offset has Offset -1.
type FetchedOffset struct {
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	Err         error
}

// FetchedTopic is one topic of an OffsetFetch answer.
type FetchedTopic struct {
	Topic      string
	Partitions []FetchedOffset
}

// DeleteOffsetsResult answers an OffsetDelete: a group error, or one error
// per requested partition (in request order, topic by topic).
type DeleteOffsetsResult struct {
	Err        error
	Partitions [][]error
}

// GroupListing is one group of ListGroups.
type GroupListing struct {
	Group        string
	ProtocolType string
	State        string
	Type         string // "classic"
}

// MemberDescription is one member of DescribeGroups.
type MemberDescription struct {
	MemberID   string
	InstanceID *string
	ClientID   string
	ClientHost string
	Metadata   []byte // for the chosen protocol, when the group is Stable
	Assignment []byte // when the group is Stable
}

// GroupDescription answers DescribeGroups for one group.
type GroupDescription struct {
	Group        string
	State        string
	ProtocolType string
	Protocol     string
	Members      []MemberDescription
	// NotClassic is set (with GROUP_ID_NOT_FOUND) for a consumer-protocol
	// group, which ConsumerGroupDescribe describes.
	NotClassic bool
}
