package cli

import "syscall"

// devSysProcAttr puts a dev-cluster node in a process group of its own, so
// that a terminal's Ctrl-C reaches only `sluice dev cluster`, which then
// stops the nodes in order; and has the kernel kill the node if
// `sluice dev cluster` dies without stopping it (kill -9), so that no node
// is left running unseen.
func devSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
