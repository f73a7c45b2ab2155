//go:build !linux

package local

import (
	"errors"
	"syscall"
)

// The local backend reads /proc to tell a live node from a reused pid; on
// other systems New refuses, and the package still compiles so the provider
// builds everywhere.
var errUnsupported = errors.New("the local backend needs Linux (it reads /proc)")

func supported() error { return errUnsupported }

func readBootID() (string, error) { return "", errUnsupported }

type procStat struct {
	state     byte
	pgrp      int
	startTime uint64
}

func readProcStat(int) (procStat, error) { return procStat{}, errUnsupported }

func groupMembers(int) (int, error) { return 0, errUnsupported }

func signalGroup(int, syscall.Signal) error { return errUnsupported }

func detached() *syscall.SysProcAttr { return nil }
