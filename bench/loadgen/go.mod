module wharf.dev/bench/loadgen

go 1.21
