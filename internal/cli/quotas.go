package cli

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kadm"
)

// The quotas commands describe and change client quotas (KIP-546) through
// DescribeClientQuotas and AlterClientQuotas, as kafka-configs.sh does with
// --entity-type users/clients/ips.

func (a *app) quotasCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "quotas",
		Short: "Describe and change client quotas (byte rates, request percentage, connection rate)",
		Long: `Describe and change client quotas, as kafka-configs.sh --entity-type users,
clients or ips does. A quota belongs to an entity: a user (the authenticated
principal's name), a client id, a user and a client id together, or an IP
address, each named or the default of its kind. The keys are Kafka's:
producer_byte_rate and consumer_byte_rate (bytes per second, per broker),
request_percentage (percent of one request-handler thread),
controller_mutation_rate, and, for IPs, connection_creation_rate.

  sluice quotas alter --entity-type users --entity-name alice --add-config producer_byte_rate=1048576
  sluice quotas alter --entity-type users --entity-default --add-config consumer_byte_rate=2097152
  sluice quotas describe
  sluice quotas alter --entity-type users --entity-name alice --delete-config producer_byte_rate`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(a.quotasDescribeCmd(), a.quotasAlterCmd())
	return cmd
}

// quotaEntityPart is one --entity-type with the --entity-name or
// --entity-default that follows it.
type quotaEntityPart struct {
	typ     string // user, client-id or ip, as the protocol names them
	name    string
	named   bool
	dflt    bool
	flagTyp string // as given, for messages
}

// quotaEntityFlags keeps kafka-configs.sh's entity flags in the order given,
// so that each --entity-name or --entity-default pairs with the
// --entity-type before it.
type quotaEntityFlags struct {
	parts []quotaEntityPart
	err   error
}

func (q *quotaEntityFlags) register(fl *pflag.FlagSet) {
	fl.Var(quotaEntityType{q}, "entity-type", "users, clients or ips (also user, client-id, ip), repeatable: users then clients for a user and client id together")
	fl.Var(quotaEntityName{q}, "entity-name", "the name of the --entity-type before it: a user, a client id or an IP address")
	f := fl.VarPF(quotaEntityDefault{q}, "entity-default", "", "the default of the --entity-type before it, for every user, client id or IP without its own")
	f.NoOptDefVal = "true"
}

type (
	quotaEntityType    struct{ q *quotaEntityFlags }
	quotaEntityName    struct{ q *quotaEntityFlags }
	quotaEntityDefault struct{ q *quotaEntityFlags }
)

func (v quotaEntityType) String() string { return "" }
func (v quotaEntityType) Type() string   { return "type" }
func (v quotaEntityType) Set(s string) error {
	var typ string
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "users", "user":
		typ = "user"
	case "clients", "client", "client-id", "client-ids":
		typ = "client-id"
	case "ips", "ip":
		typ = "ip"
	default:
		return fmt.Errorf("want users, clients or ips")
	}
	for _, p := range v.q.parts {
		if p.typ == typ {
			return fmt.Errorf("%s given twice", s)
		}
	}
	v.q.parts = append(v.q.parts, quotaEntityPart{typ: typ, flagTyp: s})
	return nil
}

// last is the --entity-type a name or default belongs to.
func (q *quotaEntityFlags) last() (*quotaEntityPart, error) {
	if len(q.parts) == 0 {
		return nil, fmt.Errorf("give --entity-type first")
	}
	p := &q.parts[len(q.parts)-1]
	if p.named || p.dflt {
		return nil, fmt.Errorf("--entity-type %s has its name already; give another --entity-type first", p.flagTyp)
	}
	return p, nil
}

func (v quotaEntityName) String() string { return "" }
func (v quotaEntityName) Type() string   { return "name" }
func (v quotaEntityName) Set(s string) error {
	p, err := v.q.last()
	if err != nil {
		return err
	}
	p.name, p.named = s, true
	return nil
}

func (v quotaEntityDefault) String() string   { return "" }
func (v quotaEntityDefault) Type() string     { return "bool" }
func (v quotaEntityDefault) IsBoolFlag() bool { return true }
func (v quotaEntityDefault) Set(s string) error {
	if b, err := strconv.ParseBool(s); err != nil || !b {
		return fmt.Errorf("takes no value")
	}
	p, err := v.q.last()
	if err != nil {
		return err
	}
	p.dflt = true
	return nil
}

// entity is the entity of alter: every type with a name or the default.
func (q *quotaEntityFlags) entity() (kadm.ClientQuotaEntity, error) {
	if len(q.parts) == 0 {
		return nil, fmt.Errorf("name the entity: --entity-type users|clients|ips with --entity-name NAME or --entity-default")
	}
	var e kadm.ClientQuotaEntity
	for _, p := range q.parts {
		c := kadm.ClientQuotaEntityComponent{Type: p.typ}
		switch {
		case p.named:
			name := p.name
			c.Name = &name
		case !p.dflt:
			return nil, fmt.Errorf("--entity-type %s needs --entity-name NAME or --entity-default after it", p.flagTyp)
		}
		e = append(e, c)
	}
	return e, nil
}

// filter is the filter of describe: a type without a name matches any
// entity of the type. Without entity flags, every quota.
func (q *quotaEntityFlags) filter() []kadm.DescribeClientQuotaComponent {
	var out []kadm.DescribeClientQuotaComponent
	for _, p := range q.parts {
		c := kadm.DescribeClientQuotaComponent{Type: p.typ}
		switch {
		case p.named:
			name := p.name
			c.MatchName, c.MatchType = &name, 0 // exact
		case p.dflt:
			c.MatchType = 1 // the default
		default:
			c.MatchType = 2 // any
		}
		out = append(out, c)
	}
	return out
}

// quotaEntityString renders an entity as kafka-configs.sh does:
// "user-principal 'alice', client-id 'app'", "the default user-principal".
func quotaEntityString(e kadm.ClientQuotaEntity) string {
	order := map[string]int{"user": 0, "client-id": 1, "ip": 2}
	e = append(kadm.ClientQuotaEntity(nil), e...)
	sort.SliceStable(e, func(i, j int) bool { return order[e[i].Type] < order[e[j].Type] })
	parts := make([]string, len(e))
	for i, c := range e {
		kind := c.Type
		if kind == "user" {
			kind = "user-principal"
		}
		if c.Name == nil {
			parts[i] = "the default " + kind
		} else {
			parts[i] = fmt.Sprintf("%s '%s'", kind, *c.Name)
		}
	}
	return strings.Join(parts, ", ")
}

// quotaValue renders a quota as a Java double, as Kafka's tools print it:
// 1048576.0.
func quotaValue(v float64) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return s
}

func (a *app) quotasDescribeCmd() *cobra.Command {
	var ef quotaEntityFlags
	cmd := &cobra.Command{
		Use:   "describe [--entity-type TYPE [--entity-name NAME | --entity-default]]...",
		Short: "Show client quotas: all of them, or an entity's",
		Long: `Show client quotas, one line per entity, as kafka-configs.sh --describe does.
With no entity flags, every quota. --entity-type alone matches every entity of
the type (named ones and the default); with --entity-name or --entity-default,
only that one. Only entities of exactly the types given are shown: an entity of
a user and a client id together needs both --entity-type users and
--entity-type clients.`,
		Example: `  sluice quotas describe
  sluice quotas describe --entity-type users
  sluice quotas describe --entity-type users --entity-name alice
  sluice quotas describe --entity-type users --entity-name alice --entity-type clients --entity-name app`,
		Args: cobra.NoArgs,
	}
	cf := a.addClientFlags(cmd)
	ef.register(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		filter := ef.filter()
		ctx, cancel := signalContext(cmd)
		defer cancel()
		cl, adm, err := cf.client()
		if err != nil {
			return err
		}
		defer cl.Close()
		qs, err := adm.DescribeClientQuotas(ctx, len(filter) > 0, filter)
		if err != nil {
			return cf.explain(err)
		}
		type line struct{ entity, values string }
		var out []line
		for _, q := range qs {
			vals := make([]string, len(q.Values))
			for i, v := range q.Values {
				vals[i] = v.Key + "=" + quotaValue(v.Value)
			}
			sort.Strings(vals)
			out = append(out, line{quotaEntityString(q.Entity), strings.Join(vals, ", ")})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].entity < out[j].entity })
		for _, l := range out {
			fmt.Fprintf(cmd.OutOrStdout(), "Quota configs for %s are %s\n", l.entity, l.values)
		}
		return nil
	}
	return cmd
}

func (a *app) quotasAlterCmd() *cobra.Command {
	var (
		ef       quotaEntityFlags
		add, del []string
		validate bool
	)
	cmd := &cobra.Command{
		Use:   "alter --entity-type TYPE (--entity-name NAME | --entity-default)... (--add-config k=v,... | --delete-config k,...)",
		Short: "Set or remove an entity's client quotas",
		Long: `Set or remove the client quotas of one entity, as kafka-configs.sh --alter
does: a user, a client id, a user and a client id together, or an IP address,
each named (--entity-name) or the default of its kind (--entity-default). The
change goes through the metadata log and every broker throttles by it at once.
Values are numbers: bytes per second for the byte rates, percent for
request_percentage.`,
		Example: `  sluice quotas alter --entity-type users --entity-name alice --add-config producer_byte_rate=1048576,consumer_byte_rate=2097152
  sluice quotas alter --entity-type clients --entity-default --add-config request_percentage=50
  sluice quotas alter --entity-type users --entity-name alice --entity-type clients --entity-name app --add-config producer_byte_rate=10240
  sluice quotas alter --entity-type ips --entity-name 10.0.0.7 --add-config connection_creation_rate=10
  sluice quotas alter --entity-type users --entity-name alice --delete-config consumer_byte_rate`,
		Args: cobra.NoArgs,
	}
	cf := a.addClientFlags(cmd)
	ef.register(cmd.Flags())
	fl := cmd.Flags()
	fl.StringArrayVar(&add, "add-config", nil, "quotas to set, key=value,..., repeatable")
	fl.StringArrayVar(&del, "delete-config", nil, "quotas to remove, key,..., repeatable")
	fl.BoolVar(&validate, "validate-only", false, "check the change, apply nothing")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		entity, err := ef.entity()
		if err != nil {
			return err
		}
		ops, err := quotaOps(add, del)
		if err != nil {
			return err
		}
		ctx, cancel := signalContext(cmd)
		defer cancel()
		cl, adm, err := cf.client()
		if err != nil {
			return err
		}
		defer cl.Close()
		alter := adm.AlterClientQuotas
		if validate {
			alter = adm.ValidateAlterClientQuotas
		}
		res, err := alter(ctx, []kadm.AlterClientQuotaEntry{{Entity: entity, Ops: ops}})
		if err != nil {
			return cf.explain(err)
		}
		if len(res) != 1 {
			return fmt.Errorf("quotas of %s: %d answers from the broker to one entity", quotaEntityString(entity), len(res))
		}
		if res[0].Err != nil {
			return fmt.Errorf("quotas of %s: %w", quotaEntityString(entity), brokerErr(res[0].Err, res[0].ErrMessage))
		}
		if validate {
			fmt.Fprintf(cmd.OutOrStdout(), "The quota change for %s is valid.\n", quotaEntityString(entity))
		} else {
			fmt.Fprintf(cmd.OutOrStdout(), "Completed updating quotas for %s.\n", quotaEntityString(entity))
		}
		return nil
	}
	return cmd
}

// quotaOps parses --add-config k=v,... and --delete-config k,... .
func quotaOps(add, del []string) ([]kadm.AlterClientQuotaOp, error) {
	var ops []kadm.AlterClientQuotaOp
	seen := map[string]bool{}
	use := func(k string) error {
		if seen[k] {
			return fmt.Errorf("quota %s given twice", k)
		}
		seen[k] = true
		return nil
	}
	for _, list := range add {
		for _, kv := range strings.Split(list, ",") {
			if strings.TrimSpace(kv) == "" {
				continue
			}
			k, v, err := parseKV("--add-config", kv)
			if err != nil {
				return nil, err
			}
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return nil, fmt.Errorf("--add-config %s=%s: not a number", k, v)
			}
			if err := use(k); err != nil {
				return nil, err
			}
			ops = append(ops, kadm.AlterClientQuotaOp{Key: k, Value: f})
		}
	}
	for _, list := range del {
		for _, k := range strings.Split(list, ",") {
			if k = strings.TrimSpace(k); k == "" {
				continue
			}
			if err := use(k); err != nil {
				return nil, err
			}
			ops = append(ops, kadm.AlterClientQuotaOp{Key: k, Remove: true})
		}
	}
	if len(ops) == 0 {
		return nil, fmt.Errorf("nothing to change: give --add-config key=value or --delete-config key")
	}
	return ops, nil
}
