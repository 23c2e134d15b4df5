// The async workloads: one-to-one hand-offs, a ring of many goroutines, many producers into
// one consumer, and a select with one ready case. Each returns whether its check passed and
// the time of its timed part.
package main

import (
	"sync"
	"time"
)

const (
	ringTasks  = 10000
	faninTasks = 10000
	faninCap   = 1024
	million    = 1000000
	tenMillion = 10 * million
)

func asyncCells() []cell {
	return []cell{
		{"pingpong", "cap0", "GOMAXPROCS=1; one goroutine sends N values, the other receives; per message", 2, 1, million, pingpong},
		{"buffered", "cap1", "one goroutine sends then receives on a cap-1 channel; per pair", 1, 0, tenMillion, buffered},
		{"ring", "cap0", "token passed N hops round 10,000 goroutines; spawning them not timed; per hop", ringTasks, 0, million, ring},
		{"fanin", "cap1024", "10,000 producers, one consumer, channel capacity 1024; spawning timed; per message", faninTasks + 1, 0, tenMillion, fanin},
		{"select2", "cap1", "each iteration sends on one of 2 cap-1 channels (alternating), then selects over both; per select", 1, 0, tenMillion, select2},
	}
}

func sumTo(n uint64) uint64 { return n * (n - 1) / 2 }

// timed runs f and returns its result and how long it took.
func timed(f func() bool) (bool, time.Duration) {
	t0 := time.Now()
	ok := f()
	return ok, time.Since(t0)
}

func pingpong(_ string, n uint64, _ int) (bool, time.Duration) {
	return timed(func() bool {
		c := make(chan uint64)
		go func() {
			for i := uint64(0); i < n; i++ {
				c <- i
			}
		}()
		var sum uint64
		for i := uint64(0); i < n; i++ {
			sum += <-c
		}
		return sum == sumTo(n)
	})
}

func buffered(_ string, n uint64, _ int) (bool, time.Duration) {
	return timed(func() bool {
		c := make(chan uint64, 1)
		var sum uint64
		for i := uint64(0); i < n; i++ {
			c <- i
			sum += <-c
		}
		return sum == sumTo(n)
	})
}

// ringMember forwards the token from in to out, one more each hop, until it holds the
// token's last value (it reports its index on done) or in is closed.
func ringMember(k int, hops uint64, in <-chan uint64, out chan<- uint64, done chan<- int, wg *sync.WaitGroup) {
	defer wg.Done()
	for v := range in {
		if v == hops {
			done <- k
			return
		}
		out <- v + 1
	}
}

// ring: goroutine k receives the token on ch[k] and sends it on ch[k+1 mod K]; the token
// counts its hops, so after n hops goroutine n mod K holds the value n.
func ring(_ string, n uint64, tasks int) (bool, time.Duration) {
	ch := make([]chan uint64, tasks)
	for k := range ch {
		ch[k] = make(chan uint64)
	}
	done := make(chan int, 1)
	var wg sync.WaitGroup
	wg.Add(tasks)
	for k := range ch {
		go ringMember(k, n, ch[k], ch[(k+1)%tasks], done, &wg)
	}
	t0 := time.Now()
	ch[0] <- 0
	last := <-done
	d := time.Since(t0)
	for k := range ch { // the others wait on their channel: let them go
		close(ch[k])
	}
	wg.Wait()
	return last == int(n%uint64(tasks)), d
}

// fanin: producer j sends j, j+K, j+2K, ... below n; the consumer adds up all n.
func fanin(_ string, n uint64, tasks int) (bool, time.Duration) {
	return timed(func() bool {
		producers := tasks - 1
		c := make(chan uint64, faninCap)
		for j := 0; j < producers; j++ {
			go func(j uint64) {
				for i := j; i < n; i += uint64(producers) {
					c <- i
				}
			}(uint64(j))
		}
		var sum uint64
		for i := uint64(0); i < n; i++ {
			sum += <-c
		}
		return sum == sumTo(n)
	})
}

func select2(_ string, n uint64, _ int) (bool, time.Duration) {
	return timed(func() bool {
		a, b := make(chan uint64, 1), make(chan uint64, 1)
		var sum, fromA uint64
		for i := uint64(0); i < n; i++ {
			if i&1 == 0 {
				a <- i
			} else {
				b <- i
			}
			select {
			case v := <-a:
				sum += v
				fromA++
			case v := <-b:
				sum += v
			}
		}
		return sum == sumTo(n) && fromA == (n+1)/2
	})
}
