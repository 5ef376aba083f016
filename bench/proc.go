package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of utime and stime in /proc/PID/stat. The kernel
// exports it as a fixed ABI value (USER_HZ) on every Linux architecture Go
// runs on, independent of the kernel's internal HZ.
const userHZ = 100

// parseStatCPU returns utime+stime from the contents of /proc/PID/stat. The
// command name (field 2) is in parentheses and may itself contain spaces or
// parentheses, so fields are counted from the last ')'.
func parseStatCPU(data []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("parsing /proc stat: no ')' after the command name")
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("parsing /proc stat: %d fields after the command name, want at least 13", len(f))
	}
	ut, err := strconv.ParseUint(f[11], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parsing /proc stat utime: %w", err)
	}
	st, err := strconv.ParseUint(f[12], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parsing /proc stat stime: %w", err)
	}
	return time.Duration(ut+st) * (time.Second / userHZ), nil
}

// parseStatusKiB returns the value of a "Key:   123 kB" line of
// /proc/PID/status, in KiB.
func parseStatusKiB(data []byte, key string) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	prefix := key + ":"
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		f := strings.Fields(line[len(prefix):])
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("parsing /proc status %s: unexpected line %q", key, line)
		}
		v, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parsing /proc status %s: %w", key, err)
		}
		return v, nil
	}
	return 0, fmt.Errorf("parsing /proc status: no %s line", key)
}

// procCPU is the CPU time (user+system, all threads) process pid has used.
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("reading CPU time of pid %d: %w", pid, err)
	}
	return parseStatCPU(data)
}

// procRSS is the resident set size of process pid, in KiB.
func procRSS(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("reading RSS of pid %d: %w", pid, err)
	}
	return parseStatusKiB(data, "VmRSS")
}
