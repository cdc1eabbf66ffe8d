// Package acl is Kafka's ACL authorizer (the semantics of StandardAuthorizer, which KRaft
// clusters run, and of the older AclAuthorizer where they agree), as a pure library: ACL
// bindings, their validation, the filters of DescribeAcls and DeleteAcls, an immutable
// indexed Snapshot of every binding, and the decision for one action.
//
// # Model
//
// A Binding grants or refuses one operation on a resource pattern to a principal from a
// host:
//
//   - resource type TOPIC, GROUP, CLUSTER, TRANSACTIONAL_ID, DELEGATION_TOKEN or USER, with a
//     pattern type LITERAL (the name, or "*" for every resource of the type) or PREFIXED (every
//     resource whose name starts with the pattern's name); the only CLUSTER name is
//     "kafka-cluster";
//   - principal "Type:Name" ("User:alice"); "User:*" matches every principal;
//   - host: the client's IP address, or "*" for any;
//   - operation (kmsg.ACLOperation) and permission ALLOW or DENY.
//
// Authorize decides as Kafka does:
//
//  1. a principal listed in super.users is allowed everything;
//  2. otherwise every binding whose pattern matches the resource is considered (literal name,
//     literal "*", and every prefix); if none exists, the answer is
//     allow.everyone.if.no.acl.found (false by default);
//  3. a matching DENY wins over any ALLOW; a DENY applies to its own operation only (or ALL);
//  4. an ALLOW of READ, WRITE, DELETE or ALTER also allows DESCRIBE, an ALLOW of ALTER_CONFIGS
//     also allows DESCRIBE_CONFIGS, and ALL allows everything;
//  5. bindings exist but none allows: denied.
//
// Host matching compares IP addresses, so "::1" and "0:0:0:0:0:0:0:1" are one host (Java
// prints the latter); any other host string must be equal.
//
// # Wiring (for internal/server and internal/server/api)
//
// The broker keeps ACLs as metadata records; on every new metadata image it rebuilds the
// snapshot and publishes it:
//
//	authz := acl.NewAuthorizer(acl.Config{
//		SuperUsers:                acl.ParseSuperUsers(cfg["super.users"]),
//		AllowEveryoneIfNoACLFound: cfg["allow.everyone.if.no.acl.found"] == "true",
//	})
//	authz.Update(acl.NewSnapshot(image.ACLs()))   // on each image change; lock-free reads
//
// A handler asks, for each resource of a request (one call each; Authorize does not allocate):
//
//	d := authz.Authorize(acl.Action{Principal: conn.Principal, Host: conn.RemoteIP,
//		Operation: kmsg.ACLOperationWrite, ResourceType: kmsg.ACLResourceTypeTopic,
//		ResourceName: topic})
//	if !d.Allowed { partitionErr = acl.DeniedError(kmsg.ACLResourceTypeTopic) }
//
// The operations per API follow Kafka's (Produce: WRITE topic, and WRITE transactional id when
// transactional; Fetch: READ topic, CLUSTER_ACTION cluster for followers; Metadata: DESCRIBE
// topic, and topics not describable are left out of an all-topics answer; CreateTopics: CREATE
// cluster or topic; group APIs: READ group; InitProducerId without a transactional id:
// IDEMPOTENT_WRITE cluster or, failing that, AuthorizeByResourceType(WRITE, TOPIC); ...).
//
// The ACL APIs (the broker must answer SECURITY_DISABLED when no authorizer is configured):
//
//   - CreateAcls: PlanCreate(snapshot, req.Creations) gives the per-creation results and the
//     bindings to write as records; a binding that already exists succeeds without a record.
//   - DescribeAcls: FilterFromDescribe(req), then Filter.Validate and snapshot.Match, and
//     DescribeResources groups the matches as the response wants (DESCRIBE on CLUSTER).
//   - DeleteAcls: PlanDelete(snapshot, req.Filters) gives the per-filter results and the
//     bindings whose removal records to write (ALTER on CLUSTER for both writes).
package acl
