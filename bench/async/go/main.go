// Go's goroutines and channels on the async benchmark's workloads (issue 12), the peer that
// sluice's coroutines are measured against. Prints one JSON object per line on stdout, the
// format every program of bench/async prints (bench/async/run.py reads them):
//
//	{"impl": "go", "note": ..., "workload": W, "cap": C, "tasks": K, "procs": P,
//	 "messages": N, "seconds": S, "ns_per_op": X, "ok": true}
//
// Every cell checks what it moved (a count and a checksum, or the token's final value);
// "ok" is false when the check fails. Flags:
//
//	--only W,...   workloads (pingpong, buffered, ring, fanin, select2, spsc, mpsc, mpmc, select_rx)
//	--scale F      multiply every workload's default count by F (0.01 for a quick check)
//	--messages N   use N for every workload instead of its default
//	--repeat K     run each cell K times (one line each)
//	--procs P      GOMAXPROCS (default: all CPUs); pingpong always runs with 1
//	--impl NAME    the lines' "impl" (default "go"; run.py names its --procs 1 run "go-1p")
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// result is one cell's line.
type result struct {
	Impl     string  `json:"impl"`
	Note     string  `json:"note"`
	Workload string  `json:"workload"`
	Cap      string  `json:"cap"`
	Tasks    int     `json:"tasks"`
	Procs    int     `json:"procs"`
	Messages uint64  `json:"messages"`
	Seconds  float64 `json:"seconds"`
	NsPerOp  float64 `json:"ns_per_op"`
	Ok       bool    `json:"ok"`
}

// cell is one workload at one capacity: f moves n messages with the given tasks and reports
// whether its check passed and the time of its timed part.
type cell struct {
	workload, capName, note string
	tasks                   int
	procs                   int // 0: the --procs value
	defaultN                uint64
	f                       func(capName string, n uint64, tasks int) (bool, time.Duration)
}

func wanted(filter, x string) bool {
	if filter == "" {
		return true
	}
	for _, f := range strings.Split(filter, ",") {
		if f == x {
			return true
		}
	}
	return false
}

func count(c cell, messages uint64, scale float64) uint64 {
	if messages > 0 {
		return messages
	}
	n := uint64(float64(c.defaultN) * scale)
	if n < 2 {
		n = 2
	}
	return n
}

func measure(impl string, c cell, n uint64, procs int) result {
	if c.procs != 0 {
		procs = c.procs
	}
	old := runtime.GOMAXPROCS(procs)
	defer runtime.GOMAXPROCS(old)
	runtime.GC() // start each cell from a collected heap
	ok, d := c.f(c.capName, n, c.tasks)
	s := d.Seconds()
	return result{impl, c.note, c.workload, c.capName, c.tasks, procs, n, s, s * 1e9 / float64(n), ok}
}

func main() {
	only := flag.String("only", "", "comma-separated workloads")
	scale := flag.Float64("scale", 1, "multiply every workload's default count by this")
	messages := flag.Uint64("messages", 0, "messages (hops, pairs, selects) per cell; 0: each workload's default")
	repeat := flag.Int("repeat", 1, "runs of each cell")
	procs := flag.Int("procs", runtime.NumCPU(), "GOMAXPROCS (pingpong always uses 1)")
	impl := flag.String("impl", "go", "the name on the lines")
	flag.Parse()
	enc := json.NewEncoder(os.Stdout)
	failed := false
	for _, c := range append(asyncCells(), shapeCells()...) {
		if !wanted(*only, c.workload) {
			continue
		}
		for r := 0; r < *repeat; r++ {
			res := measure(*impl, c, count(c, *messages, *scale), *procs)
			enc.Encode(res)
			status := ""
			if !res.Ok {
				status, failed = "  CHECK FAILED", true
			}
			fmt.Fprintf(os.Stderr, "  %s %-11s %-8s %9.1f ns/op%s\n", *impl, c.workload, c.capName, res.NsPerOp, status)
		}
	}
	if failed {
		os.Exit(1)
	}
}
