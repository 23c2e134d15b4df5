// crossbeam-channel's workload shapes (spsc, mpsc, mpmc, select_rx at capacity 0, 1 and N),
// as in bench/go, so the async table has goroutine figures next to sluice's coroutines on
// them too. T = 4 goroutines per side; producer j sends j, j+T, j+2T, ... below n.
package main

import (
	"sync"
	"time"
)

const shapeThreads = 4

func shapeCells() []cell {
	var cs []cell
	shapes := []struct {
		name  string
		tasks int
		f     func(string, uint64, int) (bool, time.Duration)
	}{
		{"spsc", 2, func(c string, n uint64, _ int) (bool, time.Duration) { return manyToMany(c, n, 1, 1) }},
		{"mpsc", shapeThreads + 1, func(c string, n uint64, _ int) (bool, time.Duration) { return manyToMany(c, n, shapeThreads, 1) }},
		{"mpmc", 2 * shapeThreads, func(c string, n uint64, _ int) (bool, time.Duration) {
			return manyToMany(c, n, shapeThreads, shapeThreads)
		}},
		{"select_rx", shapeThreads + 1, selectRx},
	}
	for _, s := range shapes {
		for _, c := range []string{"cap0", "cap1", "capN"} {
			cs = append(cs, cell{s.name, c, "crossbeam shape, T=4 (capN: capacity N)", s.tasks, 0, million, s.f})
		}
	}
	return cs
}

func makeChan(capName string, n uint64) chan uint64 {
	switch capName {
	case "cap0":
		return make(chan uint64)
	case "cap1":
		return make(chan uint64, 1)
	}
	return make(chan uint64, n)
}

// produce starts senders goroutines that send 0..n-1 between them on c.
func produce(c chan<- uint64, n uint64, senders int, wg *sync.WaitGroup) {
	for j := 0; j < senders; j++ {
		wg.Add(1)
		go func(j uint64) {
			defer wg.Done()
			for i := j; i < n; i += uint64(senders) {
				c <- i
			}
		}(uint64(j))
	}
}

// share is how many of n messages receiver r of k takes.
func share(n uint64, r, k int) uint64 {
	s := n / uint64(k)
	if uint64(r) < n%uint64(k) {
		s++
	}
	return s
}

func manyToMany(capName string, n uint64, senders, receivers int) (bool, time.Duration) {
	return timed(func() bool {
		c := makeChan(capName, n)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var sum, got uint64
		produce(c, n, senders, &wg)
		for r := 0; r < receivers; r++ {
			wg.Add(1)
			go func(m uint64) {
				defer wg.Done()
				var s uint64
				for i := uint64(0); i < m; i++ {
					s += <-c
				}
				mu.Lock()
				sum, got = sum+s, got+m
				mu.Unlock()
			}(share(n, r, receivers))
		}
		wg.Wait()
		return got == n && sum == sumTo(n)
	})
}

// selectRx: sender j sends on channel j only; one receiver selects over all four.
func selectRx(capName string, n uint64, _ int) (bool, time.Duration) {
	return timed(func() bool {
		var cs [shapeThreads]chan uint64
		var wg sync.WaitGroup
		for j := range cs {
			cs[j] = makeChan(capName, n)
			wg.Add(1)
			go func(j uint64) {
				defer wg.Done()
				for i := j; i < n; i += shapeThreads {
					cs[j] <- i
				}
			}(uint64(j))
		}
		var sum uint64
		for i := uint64(0); i < n; i++ {
			select {
			case v := <-cs[0]:
				sum += v
			case v := <-cs[1]:
				sum += v
			case v := <-cs[2]:
				sum += v
			case v := <-cs[3]:
				sum += v
			}
		}
		wg.Wait()
		return sum == sumTo(n)
	})
}
