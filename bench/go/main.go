// Go channels on crossbeam-channel's workload shapes, for sluice's comparison suite.
// Prints one JSON object per line, like bench/compare: the same workloads, the same checks
// (count and checksum of what was moved).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

type result struct {
	Impl     string  `json:"impl"`
	Note     string  `json:"note"`
	Workload string  `json:"workload"`
	Cap      string  `json:"cap"`
	Threads  int     `json:"threads"`
	Messages uint64  `json:"messages"`
	Seconds  float64 `json:"seconds"`
	Ok       bool    `json:"ok"`
}

func expected(n uint64) uint64 { return n * (n - 1) / 2 }

func makeChan(capName string, n uint64) chan uint64 {
	switch capName {
	case "cap0":
		return make(chan uint64)
	case "cap1":
		return make(chan uint64, 1)
	default:
		return make(chan uint64, n)
	}
}

func seq(capName string, n uint64, t int) bool {
	c := makeChan(capName, n)
	for i := uint64(0); i < n; i++ {
		c <- i
	}
	var sum uint64
	for i := uint64(0); i < n; i++ {
		sum += <-c
	}
	return sum == expected(n)
}

func manyToMany(capName string, n uint64, senders, receivers int) bool {
	c := makeChan(capName, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var sum, count uint64
	for j := 0; j < senders; j++ {
		wg.Add(1)
		go func(j int) {
			defer wg.Done()
			for i := uint64(j); i < n; i += uint64(senders) {
				c <- i
			}
		}(j)
	}
	for r := 0; r < receivers; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			share := n / uint64(receivers)
			if uint64(r) < n%uint64(receivers) {
				share++
			}
			var s uint64
			for i := uint64(0); i < share; i++ {
				s += <-c
			}
			mu.Lock()
			sum += s
			count += share
			mu.Unlock()
		}(r)
	}
	wg.Wait()
	return count == n && sum == expected(n)
}

// selectRecv receives from whichever of 4 channels is ready (a static select, as written by
// hand in Go; reflect.Select is far slower and would not be a fair peer).
func selectRecv(cs []chan uint64) uint64 {
	select {
	case v := <-cs[0]:
		return v
	case v := <-cs[1]:
		return v
	case v := <-cs[2]:
		return v
	case v := <-cs[3]:
		return v
	}
}

func selectSend(cs []chan uint64, v uint64) {
	select {
	case cs[0] <- v:
	case cs[1] <- v:
	case cs[2] <- v:
	case cs[3] <- v:
	}
}

func selectRx(capName string, n uint64, t int) bool {
	cs := make([]chan uint64, t)
	for i := range cs {
		cs[i] = makeChan(capName, n)
	}
	for j := 0; j < t; j++ {
		go func(j int) {
			for i := uint64(j); i < n; i += uint64(t) {
				cs[j] <- i
			}
		}(j)
	}
	var sum uint64
	for i := uint64(0); i < n; i++ {
		sum += selectRecv(cs)
	}
	return sum == expected(n)
}

func selectBoth(capName string, n uint64, t int) bool {
	cs := make([]chan uint64, t)
	for i := range cs {
		cs[i] = makeChan(capName, n)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var sum, count uint64
	for j := 0; j < t; j++ {
		wg.Add(1)
		go func(j int) {
			defer wg.Done()
			for i := uint64(j); i < n; i += uint64(t) {
				selectSend(cs, i)
			}
		}(j)
	}
	for r := 0; r < t; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			share := n / uint64(t)
			if uint64(r) < n%uint64(t) {
				share++
			}
			var s uint64
			for i := uint64(0); i < share; i++ {
				s += selectRecv(cs)
			}
			mu.Lock()
			sum += s
			count += share
			mu.Unlock()
		}(r)
	}
	wg.Wait()
	return count == n && sum == expected(n)
}

func pingPong(capName string, rounds uint64) float64 {
	ping, pong := makeChan(capName, 1), makeChan(capName, 1)
	go func() {
		for i := uint64(0); i < rounds; i++ {
			pong <- <-ping
		}
	}()
	t0 := time.Now()
	for i := uint64(0); i < rounds; i++ {
		ping <- i
		<-pong
	}
	return float64(time.Since(t0).Nanoseconds()) / float64(rounds)
}


func main() {
	messages := flag.Uint64("messages", 5000000, "messages per workload")
	threads := flag.Int("threads", 4, "threads (goroutines) per side")
	only := flag.String("only", "", "comma-separated workloads")
	caps := flag.String("caps", "", "comma-separated capacities (cap0,cap1,capN)")
	mode := flag.String("mode", "throughput", "throughput or latency")
	flag.Parse()
	if *threads != 4 {
		fmt.Fprintln(os.Stderr, "go bench: select workloads are written for 4 channels; using 4 for them")
	}
	want := func(filter, x string) bool {
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
	enc := json.NewEncoder(os.Stdout)
	if *mode == "latency" {
		rounds := *messages / 50
		if rounds < 20000 {
			rounds = 20000
		}
		for _, c := range []string{"cap0", "cap1"} {
			ns := pingPong(c, rounds)
			fmt.Printf("{\"impl\": \"go\", \"workload\": \"ping-pong round trip %s\", \"cap\": \"-\", \"ns\": %.1f, \"ok\": true}\n", c, ns)
			fmt.Fprintf(os.Stderr, "  %-36s %-28s %10.1f ns\n", "go", "ping-pong round trip "+c, ns)
		}
		return
	}
	type workload struct {
		name string
		f    func(string, uint64, int) bool
	}
	workloads := []workload{
		{"seq", seq},
		{"spsc", func(c string, n uint64, t int) bool { return manyToMany(c, n, 1, 1) }},
		{"mpsc", func(c string, n uint64, t int) bool { return manyToMany(c, n, t, 1) }},
		{"mpmc", func(c string, n uint64, t int) bool { return manyToMany(c, n, t, t) }},
		{"select_rx", func(c string, n uint64, t int) bool { return selectRx(c, n, 4) }},
		{"select_both", func(c string, n uint64, t int) bool { return selectBoth(c, n, 4) }},
	}
	for _, w := range workloads {
		if !want(*only, w.name) {
			continue
		}
		for _, c := range []string{"cap0", "cap1", "capN"} {
			if !want(*caps, c) || (w.name == "seq" && c != "capN") {
				continue
			}
			t0 := time.Now()
			ok := w.f(c, *messages, *threads)
			r := result{"go", "", w.name, c, *threads, *messages, time.Since(t0).Seconds(), ok}
			enc.Encode(r)
			status := ""
			if !ok {
				status = "  CHECKSUM FAILED"
			}
			fmt.Fprintf(os.Stderr, "  %-36s %-12s %-9s %8.3f s%s\n", "go", w.name, c, r.Seconds, status)
		}
	}
}
