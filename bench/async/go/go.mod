module sluice/bench/async/go

go 1.19
