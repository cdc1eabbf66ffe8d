//go:build !linux

package cli

import "syscall"

// devSysProcAttr puts a dev-cluster node in a process group of its own, so
// that a terminal's Ctrl-C reaches only `sluice dev cluster`, which then
// stops the nodes in order. Outside Linux there is no parent-death signal:
// if `sluice dev cluster` is killed with SIGKILL, its nodes keep running.
func devSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
