package chaos

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Network is where nodes run and how the harness cuts links between them.
type Network interface {
	// Addr returns the host:port node id binds for listener 0 (client) or 1
	// (controller). It is called once per listener; the address stays the node's.
	Addr(id int32, listener int) (string, error)
	// Command returns the command that runs name with args as node id, inside the
	// node's network.
	Command(id int32, name string, args ...string) *exec.Cmd
	// Partition replaces the current cuts: nodes in different groups can no longer
	// reach each other; a node in no group reaches no other node. Clients (the
	// harness) reach every node throughout. Networks that cannot cut links return
	// an error wrapping errors.ErrUnsupported.
	Partition(groups ...[]int32) error
	// Heal removes every cut.
	Heal() error
	// Close removes what the network set up.
	Close() error
	String() string
}

// Loopback runs every node on 127.0.0.1 with ports picked free. It cannot partition:
// all nodes share one interface.
type Loopback struct{}

// Addr picks a free port on 127.0.0.1.
func (Loopback) Addr(int32, int) (string, error) {
	port, err := freePort("127.0.0.1")
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
}

// Command runs the node directly.
func (Loopback) Command(_ int32, name string, args ...string) *exec.Cmd {
	return exec.Command(name, args...)
}

// Partition is not possible on loopback.
func (Loopback) Partition(...[]int32) error {
	return fmt.Errorf("loopback network: partitions need network namespaces (run as root): %w", errors.ErrUnsupported)
}

// Heal has nothing to heal.
func (Loopback) Heal() error { return nil }

// Close has nothing to remove.
func (Loopback) Close() error { return nil }

func (Loopback) String() string { return "loopback" }

// Netns runs each node in a network namespace of its own, joined to the harness's
// namespace by a veth pair on a bridge: node i is 10.199.K.i, the bridge (where
// clients come from) is 10.199.K.254. A partition adds blackhole routes inside the
// namespaces of the nodes it separates, so their packets to each other are dropped
// in both directions, while the bridge (clients) stays reachable. This needs root
// and iproute2's ip, and no iptables.
type Netns struct {
	tag    string // "<pid>x<n>", unique per Netns: names of namespaces and links
	subnet string // "10.199.K."
	nodes  int

	mu     sync.Mutex
	routes map[int32][]string // blackholed peer IPs per node
}

// NetnsAvailable says whether Netns can work here, and if not, why.
func NetnsAvailable() error {
	if os.Geteuid() != 0 {
		return errors.New("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("network namespaces need iproute2's ip: %w", err)
	}
	return nil
}

// netnsMu serializes NewNetns, which picks a subnet by looking at the addresses in
// use and then takes it; netnsCount numbers this process's Netns, so that runs side
// by side (parallel tests) name their links and namespaces apart.
var (
	netnsMu    sync.Mutex
	netnsCount int
)

// NewNetns creates the bridge and one namespace per node. Namespaces left behind by
// harness processes that no longer exist are removed first.
func NewNetns(nodes int) (*Netns, error) {
	if err := NetnsAvailable(); err != nil {
		return nil, err
	}
	netnsMu.Lock()
	defer netnsMu.Unlock()
	// Other processes (test packages run side by side) pick subnets too: a lock file
	// makes the look-then-take of a free subnet one step across them.
	unlock, err := lockNetnsFile()
	if err != nil {
		return nil, err
	}
	defer unlock()
	removeStaleNetns()
	pid := os.Getpid()
	netnsCount++
	n := &Netns{tag: fmt.Sprintf("%dx%d", pid, netnsCount), nodes: nodes, routes: make(map[int32][]string)}
	k, err := freeSubnet(pid + netnsCount)
	if err != nil {
		return nil, err
	}
	n.subnet = fmt.Sprintf("10.199.%d.", k)
	br := n.bridge()
	steps := [][]string{
		{"link", "add", "name", br, "type", "bridge"},
		{"addr", "add", n.subnet + "254/24", "dev", br},
		{"link", "set", br, "up"},
	}
	for id := int32(1); id <= int32(nodes); id++ {
		ns, host, peer := n.ns(id), n.hostLink(id), n.nodeLink(id)
		steps = append(steps,
			[]string{"netns", "add", ns},
			[]string{"link", "add", host, "type", "veth", "peer", "name", peer},
			[]string{"link", "set", peer, "netns", ns},
			[]string{"link", "set", host, "master", br},
			[]string{"link", "set", host, "up"},
			[]string{"netns", "exec", ns, "ip", "addr", "add", n.ip(id) + "/24", "dev", peer},
			[]string{"netns", "exec", ns, "ip", "link", "set", peer, "up"},
			[]string{"netns", "exec", ns, "ip", "link", "set", "lo", "up"},
		)
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			n.Close()
			return nil, fmt.Errorf("set up network namespaces: %w", err)
		}
	}
	return n, nil
}

func (n *Netns) bridge() string           { return "scb" + n.tag }
func (n *Netns) ns(id int32) string       { return fmt.Sprintf("sluicechaos-%s-%d", n.tag, id) }
func (n *Netns) hostLink(id int32) string { return fmt.Sprintf("sc%sh%d", n.tag, id) }
func (n *Netns) nodeLink(id int32) string { return fmt.Sprintf("sc%sn%d", n.tag, id) }
func (n *Netns) ip(id int32) string       { return n.subnet + strconv.Itoa(int(id)) }

// Addr is the node's own IP, port 9092 for clients and 9093 for the controller.
func (n *Netns) Addr(id int32, listener int) (string, error) {
	if id < 1 || int(id) > n.nodes {
		return "", fmt.Errorf("node %d outside 1..%d", id, n.nodes)
	}
	return net.JoinHostPort(n.ip(id), strconv.Itoa(9092+listener)), nil
}

// Command runs the node with ip netns exec, which enters the namespace and then execs
// the command: the process keeps its pid, so signals reach the node itself.
func (n *Netns) Command(id int32, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.ns(id), name}, args...)...)
}

// Partition cuts the links between groups.
func (n *Netns) Partition(groups ...[]int32) error {
	if err := n.Heal(); err != nil {
		return err
	}
	group := make(map[int32]int)
	for g, ids := range groups {
		for _, id := range ids {
			group[id] = g + 1
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for a := int32(1); a <= int32(n.nodes); a++ {
		for b := int32(1); b <= int32(n.nodes); b++ {
			if a == b || (group[a] != 0 && group[a] == group[b]) {
				continue
			}
			peer := n.ip(b)
			if err := ip("netns", "exec", n.ns(a), "ip", "route", "add", "blackhole", peer+"/32"); err != nil {
				return fmt.Errorf("partition %v: %w", groups, err)
			}
			n.routes[a] = append(n.routes[a], peer)
		}
	}
	return nil
}

// Heal removes every blackhole route.
func (n *Netns) Heal() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	var errs []error
	for id, peers := range n.routes {
		for _, peer := range peers {
			if err := ip("netns", "exec", n.ns(id), "ip", "route", "del", "blackhole", peer+"/32"); err != nil {
				errs = append(errs, err)
			}
		}
		delete(n.routes, id)
	}
	return errors.Join(errs...)
}

// Close deletes the namespaces (with their veth pairs) and the bridge.
func (n *Netns) Close() error {
	var errs []error
	for id := int32(1); id <= int32(n.nodes); id++ {
		if err := ip("netns", "del", n.ns(id)); err != nil && !strings.Contains(err.Error(), "No such file") {
			errs = append(errs, err)
		}
	}
	if err := ip("link", "del", n.bridge()); err != nil && !strings.Contains(err.Error(), "Cannot find device") {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (n *Netns) String() string { return "netns " + n.subnet + "0/24" }

// ip runs iproute2's ip with args.
func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// freeSubnet picks K for 10.199.K.0/24 that no interface here uses.
func freeSubnet(seed int) (int, error) {
	out, err := exec.Command("ip", "-o", "addr").Output()
	if err != nil {
		return 0, fmt.Errorf("list addresses: %w", err)
	}
	for i := range 250 {
		k := (seed+i)%250 + 1
		if !strings.Contains(string(out), fmt.Sprintf(" 10.199.%d.", k)) {
			return k, nil
		}
	}
	return 0, errors.New("no free subnet in 10.199.0.0/16")
}

// removeStaleNetns deletes namespaces and bridges named for harness processes that
// are gone, so a crashed run does not leave them behind for ever.
func removeStaleNetns() {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	stale := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest, ok := strings.CutPrefix(name, "sluicechaos-")
		if !ok {
			continue
		}
		tag, _, _ := strings.Cut(rest, "-")
		pidStr, _, _ := strings.Cut(tag, "x") // tags were "<pid>" before "<pid>x<n>"
		pid, err := strconv.Atoi(pidStr)
		if err != nil || processAlive(pid) {
			continue
		}
		ip("netns", "del", name)
		stale[tag] = true
	}
	for _, tag := range slices.Sorted(maps.Keys(stale)) {
		ip("link", "del", "scb"+tag)
	}
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// lockNetnsFile takes an exclusive flock shared by every harness process on the machine,
// and returns its release.
func lockNetnsFile() (func(), error) {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "sluice-chaos-netns.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("netns lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("netns lock: %w", err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
