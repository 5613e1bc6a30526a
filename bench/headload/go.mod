module wharf.dev/bench/headload

go 1.21
