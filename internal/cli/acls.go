package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The acls commands are kafka-acls.sh for Sluice: create (--add), list
// (--list) and delete (--remove), with its flags and output, through
// CreateAcls, DescribeAcls and DeleteAcls.

func (a *app) aclsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "acls",
		Short: "Create, list and delete ACLs (who may do what to which topic, group, ...)",
		Long: `Manage the access control lists of a cluster with an authorizer
(authorizer.class.name), as kafka-acls.sh does. An ACL allows or denies a
principal (User:alice, or a certificate's subject) an operation (Read, Write,
Create, Delete, Alter, Describe, ClusterAction, DescribeConfigs, AlterConfigs,
IdempotentWrite, All) on a resource (a topic, a group, a transactional id, a
delegation token, or the cluster) from a host. A resource pattern is literal
(the name exactly; * is every name) or prefixed. Deny wins over allow; super.users
need no ACL.

  sluice acls create --allow-principal User:alice --operation Read --operation Describe --topic orders
  sluice acls create --allow-principal User:alice --producer --topic orders
  sluice acls list --topic orders
  sluice acls delete --allow-principal User:alice --topic orders`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(a.aclsCreateCmd(), a.aclsListCmd(), a.aclsDeleteCmd())
	return cmd
}

// aclResourceFlags name the resources of an acls command.
type aclResourceFlags struct {
	topics, groups, txnIDs, tokens []string
	cluster                        bool
	pattern                        string
}

func (r *aclResourceFlags) register(fl *pflag.FlagSet, patternHelp string) {
	fl.StringArrayVar(&r.topics, "topic", nil, "a topic (* for every topic), repeatable")
	fl.StringArrayVar(&r.groups, "group", nil, "a consumer group (* for every group), repeatable")
	fl.StringArrayVar(&r.txnIDs, "transactional-id", nil, "a transactional id (* for every one), repeatable")
	fl.StringArrayVar(&r.tokens, "delegation-token", nil, "a delegation token id (* for every one), repeatable")
	fl.BoolVar(&r.cluster, "cluster", false, "the cluster (kafka-cluster)")
	fl.StringVar(&r.pattern, "resource-pattern-type", "literal", patternHelp)
}

// aclResource is a resource named on the command line.
type aclResource struct {
	typ  kmsg.ACLResourceType
	name string
}

func (r *aclResourceFlags) resources() []aclResource {
	var out []aclResource
	add := func(t kmsg.ACLResourceType, names []string) {
		for _, n := range names {
			for _, s := range strings.Split(n, ",") {
				if s = strings.TrimSpace(s); s != "" {
					out = append(out, aclResource{t, s})
				}
			}
		}
	}
	add(kmsg.ACLResourceTypeTopic, r.topics)
	add(kmsg.ACLResourceTypeGroup, r.groups)
	if r.cluster {
		out = append(out, aclResource{kmsg.ACLResourceTypeCluster, "kafka-cluster"})
	}
	add(kmsg.ACLResourceTypeTransactionalId, r.txnIDs)
	add(kmsg.ACLResourceTypeDelegationToken, r.tokens)
	return out
}

// patternType parses --resource-pattern-type; filters may also be any or
// match.
func (r *aclResourceFlags) patternType(filter bool) (kmsg.ACLResourcePatternType, error) {
	p, err := kmsg.ParseACLResourcePatternType(r.pattern)
	switch {
	case err != nil, p == kmsg.ACLResourcePatternTypeUnknown:
	case p == kmsg.ACLResourcePatternTypeLiteral, p == kmsg.ACLResourcePatternTypePrefixed:
		return p, nil
	case filter:
		return p, nil
	}
	if filter {
		return 0, fmt.Errorf("--resource-pattern-type %q: want literal, prefixed, any or match", r.pattern)
	}
	return 0, fmt.Errorf("--resource-pattern-type %q: want literal or prefixed", r.pattern)
}

// aclEntryFlags are the principals, hosts and operations of create and
// delete, with kafka-acls.sh's shortcuts --producer and --consumer.
type aclEntryFlags struct {
	allow, deny           []string
	allowHosts, denyHosts []string
	operations            []string
	producer, consumer    bool
	idempotent            bool
}

func (e *aclEntryFlags) register(fl *pflag.FlagSet) {
	fl.StringArrayVar(&e.allow, "allow-principal", nil, "principal to allow, Type:Name (User:alice, User:CN=alice,O=acme, User:* for everyone), repeatable")
	fl.StringArrayVar(&e.deny, "deny-principal", nil, "principal to deny, Type:Name, repeatable")
	fl.StringArrayVar(&e.allowHosts, "allow-host", nil, "host (IP address) the allowed principals connect from, repeatable (default *: any)")
	fl.StringArrayVar(&e.denyHosts, "deny-host", nil, "host (IP address) the denied principals connect from, repeatable (default *: any)")
	fl.StringArrayVar(&e.operations, "operation", nil, "Read, Write, Create, Delete, Alter, Describe, ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite or All; repeatable or comma-separated")
	fl.BoolVar(&e.producer, "producer", false, "the ACLs a producer needs: Write, Describe and Create on --topic; Write and Describe on --transactional-id")
	fl.BoolVar(&e.consumer, "consumer", false, "the ACLs a consumer needs: Read and Describe on --topic; Read on --group")
	fl.BoolVar(&e.idempotent, "idempotent", false, "with --producer: IdempotentWrite on the cluster too (not needed since Kafka 3.0: Write on a topic is enough)")
}

// checkPrincipals refuses a principal without its type, as Kafka does.
func checkPrincipals(flag string, ps []string) error {
	for _, p := range ps {
		typ, name, ok := strings.Cut(p, ":")
		if !ok || typ == "" || name == "" {
			return fmt.Errorf("%s %q: want Type:Name, for example User:%s", flag, p, strings.TrimPrefix(p, ":"))
		}
	}
	return nil
}

// parseOperations parses --operation; any is allowed in filters only.
func parseOperations(vals []string, filter bool) ([]kmsg.ACLOperation, error) {
	var out []kmsg.ACLOperation
	seen := map[kmsg.ACLOperation]bool{}
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			op, err := kmsg.ParseACLOperation(s)
			if err != nil || op == kmsg.ACLOperationUnknown || (op == kmsg.ACLOperationAny && !filter) {
				return nil, fmt.Errorf("--operation %q: want Read, Write, Create, Delete, Alter, Describe, ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite, CreateTokens, DescribeTokens or All", s)
			}
			if !seen[op] {
				seen[op] = true
				out = append(out, op)
			}
		}
	}
	return out, nil
}

// plan pairs each resource with its operations: --operation for every
// resource, or what --producer and --consumer give each kind of resource.
// The cluster joins the resources for --producer --idempotent. An empty
// list of operations means any (delete only).
func (e *aclEntryFlags) plan(res []aclResource, filter bool) ([]aclResource, map[aclResource][]kmsg.ACLOperation, error) {
	ops := map[aclResource][]kmsg.ACLOperation{}
	if !e.producer && !e.consumer {
		if e.idempotent {
			return nil, nil, errors.New("--idempotent goes with --producer")
		}
		parsed, err := parseOperations(e.operations, filter)
		if err != nil {
			return nil, nil, err
		}
		if len(parsed) == 0 && !filter {
			return nil, nil, errors.New("give --operation (Read, Write, Describe, ...), or --producer or --consumer")
		}
		for _, r := range res {
			ops[r] = parsed
		}
		return res, ops, nil
	}
	if len(e.operations) > 0 {
		return nil, nil, errors.New("--operation and --producer/--consumer do not go together")
	}
	var hasTopic, hasGroup bool
	for _, r := range res {
		var want []kmsg.ACLOperation
		switch r.typ {
		case kmsg.ACLResourceTypeTopic:
			hasTopic = true
			if e.producer {
				want = append(want, kmsg.ACLOperationWrite, kmsg.ACLOperationDescribe, kmsg.ACLOperationCreate)
			}
			if e.consumer {
				want = append(want, kmsg.ACLOperationRead, kmsg.ACLOperationDescribe)
			}
		case kmsg.ACLResourceTypeGroup:
			hasGroup = true
			if e.consumer {
				want = append(want, kmsg.ACLOperationRead)
			}
		case kmsg.ACLResourceTypeTransactionalId:
			if e.producer {
				want = append(want, kmsg.ACLOperationWrite, kmsg.ACLOperationDescribe)
			}
		}
		if len(want) == 0 {
			return nil, nil, fmt.Errorf("--producer and --consumer take --topic, --group (consumer) and --transactional-id (producer), not %s", strings.ToLower(r.typ.String()))
		}
		ops[r] = dedupOps(want)
	}
	if !hasTopic {
		return nil, nil, errors.New("--producer and --consumer need --topic")
	}
	if e.consumer && !hasGroup {
		return nil, nil, errors.New("--consumer needs --group: the group the consumer commits offsets in")
	}
	if e.idempotent {
		if !e.producer {
			return nil, nil, errors.New("--idempotent goes with --producer")
		}
		c := aclResource{kmsg.ACLResourceTypeCluster, "kafka-cluster"}
		if _, ok := ops[c]; !ok {
			res = append(res, c)
		}
		ops[c] = []kmsg.ACLOperation{kmsg.ACLOperationIdempotentWrite}
	}
	return res, ops, nil
}

func dedupOps(ops []kmsg.ACLOperation) []kmsg.ACLOperation {
	var out []kmsg.ACLOperation
	seen := map[kmsg.ACLOperation]bool{}
	for _, o := range ops {
		if !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	return out
}

// aclEntry is a principal, a host and a permission.
type aclEntry struct {
	principal, host string
	perm            kmsg.ACLPermissionType
}

// entries crosses principals with hosts. For create, a principal without
// hosts gets *; for a filter (hosts empty) any host.
func (e *aclEntryFlags) entries(filter bool) ([]aclEntry, error) {
	if err := checkPrincipals("--allow-principal", e.allow); err != nil {
		return nil, err
	}
	if err := checkPrincipals("--deny-principal", e.deny); err != nil {
		return nil, err
	}
	if len(e.allowHosts) > 0 && len(e.allow) == 0 {
		return nil, errors.New("--allow-host needs --allow-principal")
	}
	if len(e.denyHosts) > 0 && len(e.deny) == 0 {
		return nil, errors.New("--deny-host needs --deny-principal")
	}
	var out []aclEntry
	cross := func(ps, hosts []string, perm kmsg.ACLPermissionType) {
		if len(hosts) == 0 {
			hosts = []string{"*"}
			if filter {
				hosts = []string{""} // any host
			}
		}
		for _, p := range ps {
			for _, h := range hosts {
				out = append(out, aclEntry{p, h, perm})
			}
		}
	}
	cross(e.allow, e.allowHosts, kmsg.ACLPermissionTypeAllow)
	cross(e.deny, e.denyHosts, kmsg.ACLPermissionTypeDeny)
	return out, nil
}

// resourcePatternString renders a resource pattern as kafka-acls.sh does.
func resourcePatternString(t kmsg.ACLResourceType, name string, p kmsg.ACLResourcePatternType) string {
	return fmt.Sprintf("ResourcePattern(resourceType=%s, name=%s, patternType=%s)", t, name, p)
}

// aceString renders an access control entry as kafka-acls.sh does.
func aceString(principal, host string, op kmsg.ACLOperation, perm kmsg.ACLPermissionType) string {
	return fmt.Sprintf("(principal=%s, host=%s, operation=%s, permissionType=%s)", principal, host, op, perm)
}

func (a *app) aclsCreateCmd() *cobra.Command {
	var (
		rf aclResourceFlags
		ef aclEntryFlags
	)
	cmd := &cobra.Command{
		Use:   "create (--allow-principal P | --deny-principal P)... (--operation OP... | --producer | --consumer) RESOURCE...",
		Short: "Create ACLs (kafka-acls.sh --add)",
		Long: `Create ACLs: every principal (with each of its hosts) gets every operation on
every resource named, as kafka-acls.sh --add does. Creating an ACL that exists
already succeeds. Needs Alter on the cluster.`,
		Example: `  sluice acls create --allow-principal User:alice --operation Read --operation Describe --topic orders
  sluice acls create --allow-principal User:alice --consumer --topic orders --group billing
  sluice acls create --allow-principal User:bob --producer --topic events- --resource-pattern-type prefixed
  sluice acls create --deny-principal User:mallory --deny-host 10.0.0.9 --operation All --topic '*'
  sluice acls create --allow-principal User:ops --operation Describe --operation Alter --cluster`,
		Args: cobra.NoArgs,
	}
	cf := a.addClientFlags(cmd)
	rf.register(cmd.Flags(), "literal (the name exactly) or prefixed (every name that starts with it)")
	ef.register(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		pattern, err := rf.patternType(false)
		if err != nil {
			return err
		}
		res := rf.resources()
		if len(res) == 0 {
			return errors.New("name a resource: --topic, --group, --cluster, --transactional-id or --delegation-token")
		}
		entries, err := ef.entries(false)
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			return errors.New("give --allow-principal or --deny-principal: whom the ACLs are for")
		}
		res, ops, err := ef.plan(res, false)
		if err != nil {
			return err
		}
		req := kmsg.NewPtrCreateACLsRequest()
		for _, r := range res {
			for _, op := range ops[r] {
				for _, e := range entries {
					c := kmsg.NewCreateACLsRequestCreation()
					c.ResourceType, c.ResourceName, c.ResourcePatternType = r.typ, r.name, pattern
					c.Principal, c.Host, c.Operation, c.PermissionType = e.principal, e.host, op, e.perm
					req.Creations = append(req.Creations, c)
				}
			}
		}
		ctx, cancel := signalContext(cmd)
		defer cancel()
		cl, _, err := cf.client()
		if err != nil {
			return err
		}
		defer cl.Close()
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return cf.explain(err)
		}
		if len(resp.Results) != len(req.Creations) {
			return fmt.Errorf("the broker answered %d of %d ACL creations", len(resp.Results), len(req.Creations))
		}
		out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
		failed, last := 0, ""
		for i, c := range req.Creations {
			rp := resourcePatternString(c.ResourceType, c.ResourceName, c.ResourcePatternType)
			ace := aceString(c.Principal, c.Host, c.Operation, c.PermissionType)
			r := resp.Results[i]
			if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
				failed++
				fmt.Fprintf(errOut, "Error adding ACL %s for resource `%s`: %v\n", ace, rp, brokerErr(err, derefStr(r.ErrorMessage)))
				continue
			}
			if rp != last {
				fmt.Fprintf(out, "Adding ACLs for resource `%s`:\n", rp)
				last = rp
			}
			fmt.Fprintf(out, " \t%s\n", ace)
		}
		if failed > 0 {
			return fmt.Errorf("%d of %d ACLs not created", failed, len(req.Creations))
		}
		return nil
	}
	return cmd
}

func derefStr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// describedACL is one ACL binding.
type describedACL struct {
	typ       kmsg.ACLResourceType
	name      string
	pattern   kmsg.ACLResourcePatternType
	principal string
	host      string
	op        kmsg.ACLOperation
	perm      kmsg.ACLPermissionType
}

// printACLs prints bindings grouped by resource pattern, sorted, as
// kafka-acls.sh --list does.
func printACLs(w io.Writer, heading string, acls []describedACL) {
	type key struct {
		typ     kmsg.ACLResourceType
		name    string
		pattern kmsg.ACLResourcePatternType
	}
	groups := map[key]map[string]bool{}
	var keys []key
	for _, a := range acls {
		k := key{a.typ, a.name, a.pattern}
		if groups[k] == nil {
			groups[k] = map[string]bool{}
			keys = append(keys, k)
		}
		groups[k][aceString(a.principal, a.host, a.op, a.perm)] = true
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.typ != b.typ {
			return a.typ < b.typ
		}
		if a.name != b.name {
			return a.name < b.name
		}
		return a.pattern < b.pattern
	})
	for _, k := range keys {
		fmt.Fprintf(w, "%s `%s`:\n", heading, resourcePatternString(k.typ, k.name, k.pattern))
		aces := make([]string, 0, len(groups[k]))
		for s := range groups[k] {
			aces = append(aces, s)
		}
		sort.Strings(aces)
		for _, s := range aces {
			fmt.Fprintf(w, " \t%s\n", s)
		}
		fmt.Fprintln(w)
	}
}

func (a *app) aclsListCmd() *cobra.Command {
	var (
		rf         aclResourceFlags
		principals []string
	)
	cmd := &cobra.Command{
		Use:   "list [RESOURCE...] [--principal P]...",
		Short: "List ACLs (kafka-acls.sh --list)",
		Long: `List ACLs grouped by resource pattern, as kafka-acls.sh --list does: every ACL,
or those of the resources named (with --resource-pattern-type: literal, the
default, prefixed, any pattern of the name, or match: every ACL that applies to
the name, literal, * and prefixes), or those of --principal. Needs Describe on
the cluster.`,
		Example: `  sluice acls list
  sluice acls list --topic orders
  sluice acls list --topic orders --resource-pattern-type match
  sluice acls list --principal User:alice`,
		Args: cobra.NoArgs,
	}
	cf := a.addClientFlags(cmd)
	rf.register(cmd.Flags(), "literal, prefixed, any (every pattern of the name) or match (every ACL that applies to the name)")
	cmd.Flags().StringArrayVar(&principals, "principal", nil, "only the ACLs of this principal, Type:Name, repeatable")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		pattern, err := rf.patternType(true)
		if err != nil {
			return err
		}
		if err := checkPrincipals("--principal", principals); err != nil {
			return err
		}
		res := rf.resources()
		var reqs []*kmsg.DescribeACLsRequest
		base := func() *kmsg.DescribeACLsRequest {
			r := kmsg.NewPtrDescribeACLsRequest()
			r.Operation, r.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
			r.ResourceType, r.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
			if cmd.Flags().Changed("resource-pattern-type") {
				r.ResourcePatternType = pattern
			}
			return r
		}
		if len(res) == 0 {
			reqs = append(reqs, base())
		}
		for _, rs := range res {
			r := base()
			r.ResourceType, r.ResourceName, r.ResourcePatternType = rs.typ, kmsg.StringPtr(rs.name), pattern
			reqs = append(reqs, r)
		}
		if len(principals) > 0 {
			var withP []*kmsg.DescribeACLsRequest
			for _, r := range reqs {
				for _, p := range principals {
					c := *r
					c.Principal = kmsg.StringPtr(p)
					withP = append(withP, &c)
				}
			}
			reqs = withP
		}
		ctx, cancel := signalContext(cmd)
		defer cancel()
		cl, _, err := cf.client()
		if err != nil {
			return err
		}
		defer cl.Close()
		acls, err := describeACLs(ctx, cl, reqs)
		if err != nil {
			return cf.explain(err)
		}
		printACLs(cmd.OutOrStdout(), "Current ACLs for resource", acls)
		return nil
	}
	return cmd
}

// describeACLs sends each filter and gathers the bindings.
func describeACLs(ctx context.Context, cl *kgo.Client, reqs []*kmsg.DescribeACLsRequest) ([]describedACL, error) {
	var out []describedACL
	for _, req := range reqs {
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return nil, err
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return nil, brokerErr(err, derefStr(resp.ErrorMessage))
		}
		for _, r := range resp.Resources {
			for _, a := range r.ACLs {
				out = append(out, describedACL{r.ResourceType, r.ResourceName, r.ResourcePatternType, a.Principal, a.Host, a.Operation, a.PermissionType})
			}
		}
	}
	return out, nil
}

func (a *app) aclsDeleteCmd() *cobra.Command {
	var (
		rf aclResourceFlags
		ef aclEntryFlags
	)
	cmd := &cobra.Command{
		Use:   "delete RESOURCE... [--allow-principal P | --deny-principal P]... [--operation OP]...",
		Short: "Delete ACLs (kafka-acls.sh --remove)",
		Long: `Delete the ACLs of the resources named that match the other flags, as
kafka-acls.sh --remove does: without principals, every principal's; without
--operation, every operation's; without hosts, every host's. The ACLs deleted
are printed. Needs Alter on the cluster.`,
		Example: `  sluice acls delete --topic orders
  sluice acls delete --allow-principal User:alice --operation Write --topic orders
  sluice acls delete --allow-principal User:bob --topic events- --resource-pattern-type prefixed`,
		Args: cobra.NoArgs,
	}
	cf := a.addClientFlags(cmd)
	rf.register(cmd.Flags(), "literal, prefixed, any (every pattern of the name) or match (every ACL that applies to the name: use with care)")
	ef.register(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		pattern, err := rf.patternType(true)
		if err != nil {
			return err
		}
		res := rf.resources()
		if len(res) == 0 {
			return errors.New("name a resource: --topic, --group, --cluster, --transactional-id or --delegation-token")
		}
		entries, err := ef.entries(true)
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			entries = []aclEntry{{perm: kmsg.ACLPermissionTypeAny}}
		}
		res, ops, err := ef.plan(res, true)
		if err != nil {
			return err
		}
		req := kmsg.NewPtrDeleteACLsRequest()
		for _, r := range res {
			rops := ops[r]
			if len(rops) == 0 {
				rops = []kmsg.ACLOperation{kmsg.ACLOperationAny}
			}
			for _, op := range rops {
				for _, e := range entries {
					f := kmsg.NewDeleteACLsRequestFilter()
					f.ResourceType, f.ResourceName, f.ResourcePatternType = r.typ, kmsg.StringPtr(r.name), pattern
					f.Operation, f.PermissionType = op, e.perm
					if e.principal != "" {
						f.Principal = kmsg.StringPtr(e.principal)
					}
					if e.host != "" {
						f.Host = kmsg.StringPtr(e.host)
					}
					req.Filters = append(req.Filters, f)
				}
			}
		}
		ctx, cancel := signalContext(cmd)
		defer cancel()
		cl, _, err := cf.client()
		if err != nil {
			return err
		}
		defer cl.Close()
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return cf.explain(err)
		}
		var deleted []describedACL
		failed := 0
		for _, r := range resp.Results {
			if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
				failed++
				fmt.Fprintf(cmd.ErrOrStderr(), "Error deleting ACLs: %v\n", brokerErr(err, derefStr(r.ErrorMessage)))
				continue
			}
			for _, m := range r.MatchingACLs {
				d := describedACL{m.ResourceType, m.ResourceName, m.ResourcePatternType, m.Principal, m.Host, m.Operation, m.PermissionType}
				if err := kerr.ErrorForCode(m.ErrorCode); err != nil {
					failed++
					fmt.Fprintf(cmd.ErrOrStderr(), "Error deleting ACL %s for resource `%s`: %v\n", aceString(d.principal, d.host, d.op, d.perm),
						resourcePatternString(d.typ, d.name, d.pattern), brokerErr(err, derefStr(m.ErrorMessage)))
					continue
				}
				deleted = append(deleted, d)
			}
		}
		if failed > 0 {
			printACLs(cmd.OutOrStdout(), "Removed ACLs for resource", deleted)
			return fmt.Errorf("%d ACL deletions failed", failed)
		}
		if len(deleted) == 0 {
			fmt.Fprintln(cmd.ErrOrStderr(), "No ACL matched; nothing deleted.")
			return nil
		}
		printACLs(cmd.OutOrStdout(), "Removed ACLs for resource", deleted)
		return nil
	}
	return cmd
}
