// loadgen: the load generator of bench/load.sh (standard library only).
//
//	loadgen seed -upstream URL -state FILE [-cold 3000 -cold-size 65536 -warm-size 4194304]
//	loadgen run  -wharf URL -project P -state FILE [-c 2000 -d 60s]
//	loadgen freeport   prints a free TCP port on 127.0.0.1
//
// seed pushes to the upstream registry: one warm blob, a small image tagged latest (its manifest is the HEAD
// target) and -cold blobs of random bytes, each in its own repository, and writes what it pushed to -state.
//
// run warms wharf (one HEAD of the tag, one GET of the warm blob), then keeps -c clients busy for -d, each on its
// own keep-alive connection with one request at a time: HEAD of the manifest by tag (50%), GET of the warm blob
// (45%), GET of a cold blob no one has asked for yet (5%, while the pool lasts; afterwards that share goes to the
// warm blob). Every response is checked (status, Content-Length, body length, Docker-Content-Digest; cold blobs by
// sha256). A 503 carrying Retry-After is a documented limit (limits.maxConnections, a full storage executor) and is
// counted apart from errors. It prints one line per kind, key=value, with p50 and p99 latency in milliseconds, and
// exits 1 on any error.
package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	manifestType = "application/vnd.oci.image.manifest.v1+json"
	accept       = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, " +
		"application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: loadgen seed|run [flags]")
	}
	switch os.Args[1] {
	case "seed":
		seed(os.Args[2:])
	case "run":
		run(os.Args[2:])
	case "freeport":
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fail("freeport: %v", err)
		}
		fmt.Println(l.Addr().(*net.TCPAddr).Port)
		l.Close()
	default:
		fail("usage: loadgen seed|run [flags]")
	}
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "loadgen: "+format+"\n", a...)
	os.Exit(2)
}

// ------------------------------------------------------------------------------------------------------ seed

func seed(args []string) {
	fs := flag.NewFlagSet("seed", flag.ExitOnError)
	upstream := fs.String("upstream", "", "the upstream registry, http://127.0.0.1:PORT")
	state := fs.String("state", "", "where to write what was pushed")
	cold := fs.Int("cold", 3000, "cold blobs to push (at most 20000)")
	coldSize := fs.Int("cold-size", 64<<10, "bytes per cold blob (at most 4 MiB)")
	warmSize := fs.Int("warm-size", 4<<20, "bytes of the warm blob (at most 256 MiB)")
	fs.Parse(args)
	if *upstream == "" || *state == "" || *cold < 1 || *cold > 20000 || *coldSize < 1 || *coldSize > 4<<20 ||
		*warmSize < 1 || *warmSize > 256<<20 {
		fail("seed: bad flags")
	}
	client := &http.Client{Timeout: 60 * time.Second}
	var out bytes.Buffer

	warm := randomBytes(*warmSize, 1)
	warmDigest := push(client, *upstream, "load/warm", warm)
	fmt.Fprintf(&out, "warm load/warm %s %d\n", warmDigest, len(warm))

	layer := randomBytes(1024, 2)
	layerDigest := push(client, *upstream, "load/small", layer)
	config := []byte(`{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[]}}`)
	configDigest := push(client, *upstream, "load/small", config)
	manifest := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":`+
		`"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":`+
		`"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}`,
		manifestType, configDigest, len(config), layerDigest, len(layer)))
	req, _ := http.NewRequest("PUT", *upstream+"/v2/load/small/manifests/latest", bytes.NewReader(manifest))
	req.Header.Set("Content-Type", manifestType)
	mustStatus(client.Do(req))(201, "manifest PUT")
	fmt.Fprintf(&out, "tag load/small latest %s %d\n", digestOf(manifest), len(manifest))

	var wg sync.WaitGroup
	lines := make([]string, *cold)
	next := int64(-1)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(atomic.AddInt64(&next, 1))
				if i >= *cold {
					return
				}
				repo := fmt.Sprintf("load/cold%d", i%50)
				b := randomBytes(*coldSize, int64(1000+i))
				lines[i] = fmt.Sprintf("cold %s %s %d\n", repo, push(client, *upstream, repo, b), len(b))
			}
		}()
	}
	wg.Wait()
	for _, l := range lines {
		out.WriteString(l)
	}
	if err := os.WriteFile(*state, out.Bytes(), 0o644); err != nil {
		fail("seed: %v", err)
	}
	fmt.Printf("seeded warm=%d cold=%d cold-size=%d\n", len(warm), *cold, *coldSize)
}

func randomBytes(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// push uploads b monolithically (POST, then PUT ?digest=) and returns its digest.
func push(client *http.Client, upstream, repo string, b []byte) string {
	d := digestOf(b)
	resp, err := client.Post(upstream+"/v2/"+repo+"/blobs/uploads/", "", nil)
	if err != nil {
		fail("seed: POST upload: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != 202 || loc == "" {
		fail("seed: POST upload gave %d", resp.StatusCode)
	}
	if strings.HasPrefix(loc, "/") {
		loc = upstream + loc
	}
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	req, _ := http.NewRequest("PUT", loc+sep+"digest="+d, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/octet-stream")
	mustStatus(client.Do(req))(201, "blob PUT")
	return d
}

func mustStatus(resp *http.Response, err error) func(int, string) {
	return func(want int, what string) {
		if err != nil {
			fail("seed: %s: %v", what, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			fail("seed: %s gave %d", what, resp.StatusCode)
		}
	}
}

// ------------------------------------------------------------------------------------------------------- run

type target struct {
	kind, repo, ref, digest string
	size                    int64
}

type kindStats struct {
	mu        sync.Mutex
	latencies []time.Duration
	ok        int64
	limited   int64 // 503 with Retry-After: a documented limit
	errors    int64
	bytes     int64
	firstErrs []string
}

func (k *kindStats) record(d time.Duration, status string, n int64, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case err != nil:
		k.errors++
		if len(k.firstErrs) < 5 {
			k.firstErrs = append(k.firstErrs, err.Error())
		}
	case status == "limited":
		k.limited++
	default:
		k.ok++
		k.bytes += n
		if len(k.latencies) < 5_000_000 {
			k.latencies = append(k.latencies, d)
		}
	}
}

func run(args []string) {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	wharf := fs.String("wharf", "", "wharf's URL, http://127.0.0.1:PORT")
	project := fs.String("project", "", "wharf's project in front of the upstream")
	state := fs.String("state", "", "the file seed wrote")
	clients := fs.Int("c", 2000, "concurrent clients (at most 10000)")
	dur := fs.Duration("d", 60*time.Second, "how long the load runs (at most 10m)")
	ramp := fs.Duration("ramp", 2*time.Second, "clients start spread over this")
	fs.Parse(args)
	if *wharf == "" || *project == "" || *state == "" || *clients < 1 || *clients > 10000 || *dur <= 0 ||
		*dur > 10*time.Minute || *ramp < 0 || *ramp > time.Minute {
		fail("run: bad flags")
	}
	raw, err := os.ReadFile(*state)
	if err != nil {
		fail("run: %v", err)
	}
	var warm, tag target
	var cold []target
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		f := strings.Fields(l)
		switch f[0] {
		case "warm":
			n, _ := strconv.ParseInt(f[3], 10, 64)
			warm = target{"warm", f[1], f[2], f[2], n}
		case "tag":
			n, _ := strconv.ParseInt(f[4], 10, 64)
			tag = target{"head", f[1], f[2], f[3], n}
		case "cold":
			n, _ := strconv.ParseInt(f[3], 10, 64)
			cold = append(cold, target{"cold", f[1], f[2], f[2], n})
		}
	}
	base := strings.TrimRight(*wharf, "/") + "/v2/" + *project + "/"

	// Warm-up: the tag and the warm blob are cached before the clock starts.
	warmClient := newClient()
	if _, err := do(warmClient, base, tag); err != nil {
		fail("run: warm-up HEAD: %v", err)
	}
	if _, err := do(warmClient, base, warm); err != nil {
		fail("run: warm-up GET: %v", err)
	}
	warmClient.CloseIdleConnections()

	stats := map[string]*kindStats{"head": {}, "warm": {}, "cold": {}}
	var coldNext int64 = -1
	var coldSpentAt atomic.Int64
	start := time.Now()
	deadline := start.Add(*ramp + *dur)
	var wg sync.WaitGroup
	for i := 0; i < *clients; i++ {
		wg.Add(1)
		delay := time.Duration(int64(*ramp) * int64(i) / int64(*clients))
		go func(id int) {
			defer wg.Done()
			time.Sleep(delay)
			c := newClient()
			defer c.CloseIdleConnections()
			rnd := rand.New(rand.NewSource(int64(id)))
			for time.Now().Before(deadline) {
				t := tag
				switch p := rnd.Intn(100); {
				case p < 50:
				case p < 95:
					t = warm
				default:
					i := atomic.AddInt64(&coldNext, 1)
					if i < int64(len(cold)) {
						t = cold[i]
					} else {
						coldSpentAt.CompareAndSwap(0, int64(time.Since(start)))
						t = warm
					}
				}
				began := time.Now()
				n, err := do(c, base, t)
				status := ""
				var lim limitedErr
				if errors.As(err, &lim) {
					status, err = "limited", nil
				}
				stats[t.kind].record(time.Since(began), status, n, err)
			}
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)

	failed := false
	for _, k := range []string{"head", "warm", "cold"} {
		s := stats[k]
		sort.Slice(s.latencies, func(a, b int) bool { return s.latencies[a] < s.latencies[b] })
		fmt.Printf("kind=%s ok=%d limited=%d errors=%d bytes=%d rps=%.0f p50_ms=%s p99_ms=%s\n", k, s.ok, s.limited,
			s.errors, s.bytes, float64(s.ok)/elapsed.Seconds(), pct(s.latencies, 0.50), pct(s.latencies, 0.99))
		for _, e := range s.firstErrs {
			fmt.Printf("error kind=%s %s\n", k, e)
		}
		if s.errors > 0 {
			failed = true
		}
	}
	spent := "never"
	if v := coldSpentAt.Load(); v > 0 {
		spent = fmt.Sprintf("%.1fs", time.Duration(v).Seconds())
	}
	fmt.Printf("clients=%d seconds=%.1f cold_pool=%d cold_pool_spent_at=%s\n", *clients, elapsed.Seconds(), len(cold), spent)
	if failed {
		os.Exit(1)
	}
}

func pct(l []time.Duration, q float64) string {
	if len(l) == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f", float64(l[int(q*float64(len(l)-1))].Microseconds())/1000)
}

// newClient is one client: one keep-alive connection, one request at a time.
func newClient() *http.Client {
	return &http.Client{
		Timeout: 120 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 30 * time.Second}).DialContext,
			MaxIdleConns:        1,
			MaxIdleConnsPerHost: 1,
			MaxConnsPerHost:     1,
			DisableCompression:  true,
			IdleConnTimeout:     90 * time.Second,
		},
	}
}

type limitedErr struct{ status int }

func (e limitedErr) Error() string { return fmt.Sprintf("HTTP %d with Retry-After", e.status) }

// do sends one request for t and checks the answer; returns the body bytes read.
func do(c *http.Client, base string, t target) (int64, error) {
	method, path := "GET", base+t.repo+"/blobs/"+t.digest
	if t.kind == "head" {
		method, path = "HEAD", base+t.repo+"/manifests/"+t.ref
	}
	req, _ := http.NewRequest(method, path, nil)
	if t.kind == "head" {
		req.Header.Set("Accept", accept)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == 503 && resp.Header.Get("Retry-After") != "" {
		io.Copy(io.Discard, resp.Body)
		return 0, limitedErr{resp.StatusCode}
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return 0, fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(b))
	}
	if resp.ContentLength != t.size {
		return 0, fmt.Errorf("%s %s: Content-Length %d, want %d", method, path, resp.ContentLength, t.size)
	}
	if got := resp.Header.Get("Docker-Content-Digest"); got != t.digest {
		return 0, fmt.Errorf("%s %s: Docker-Content-Digest %q, want %s", method, path, got, t.digest)
	}
	if t.kind == "head" {
		return 0, nil
	}
	var n int64
	if t.kind == "cold" {
		h := sha256.New()
		n, err = io.Copy(h, bufio.NewReaderSize(resp.Body, 64<<10))
		if err == nil && "sha256:"+hex.EncodeToString(h.Sum(nil)) != t.digest {
			err = fmt.Errorf("wrong bytes")
		}
	} else {
		n, err = io.Copy(io.Discard, resp.Body)
	}
	if err != nil {
		return n, fmt.Errorf("%s %s: body after %d bytes: %v", method, path, n, err)
	}
	if n != t.size {
		return n, fmt.Errorf("%s %s: body %d bytes, want %d", method, path, n, t.size)
	}
	return n, nil
}
