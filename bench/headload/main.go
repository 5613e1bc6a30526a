// headload: a small HTTP/1.1 HEAD load generator (standard library only).
//
// Stock wrk 4.1 waits for a body after a HEAD response that carries Content-Length, so it cannot
// measure HEAD. headload keeps -c keep-alive connections, each sending one HEAD at a time (no
// pipelining), reads only the status line and headers, and counts responses by status for a fixed
// duration after a warm-up. It reconnects when the server closes a connection.
//
//	headload -url http://127.0.0.1:5000/v2/p/r/manifests/latest -c 64 -d 10s [-warmup 1s] [-H 'Accept: x']
//
// Output (one line, key=value): requests, seconds, rps, ok (2xx), non2xx, errors, reconnects, codes.
//
//	headload -freeport    prints a free TCP port on 127.0.0.1
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

type counts struct {
	ok, non2xx, errors, reconnects int64
	codes                          map[int]int64
}

func main() {
	rawURL := flag.String("url", "", "target URL (http only)")
	conns := flag.Int("c", 64, "keep-alive connections")
	dur := flag.Duration("d", 10*time.Second, "measured duration (at most 120s)")
	warm := flag.Duration("warmup", time.Second, "unmeasured warm-up before the measured duration (at most 30s)")
	maxReq := flag.Int64("n", 50_000_000, "stop after this many measured requests")
	freeport := flag.Bool("freeport", false, "print a free port on 127.0.0.1 and exit")
	var hs headers
	flag.Var(&hs, "H", "extra request header (repeatable)")
	flag.Parse()

	if *freeport {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, "headload:", err)
			os.Exit(1)
		}
		fmt.Println(l.Addr().(*net.TCPAddr).Port)
		l.Close()
		return
	}
	u, err := url.Parse(*rawURL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		fmt.Fprintln(os.Stderr, "headload: -url must be an http:// URL")
		os.Exit(2)
	}
	if *dur <= 0 || *dur > 120*time.Second || *warm < 0 || *warm > 30*time.Second || *conns < 1 || *conns > 1024 {
		fmt.Fprintln(os.Stderr, "headload: bounds: 0 < -d <= 120s, 0 <= -warmup <= 30s, 1 <= -c <= 1024")
		os.Exit(2)
	}
	host := u.Host
	if u.Port() == "" {
		host += ":80"
	}
	path := u.RequestURI()
	var req bytes.Buffer
	fmt.Fprintf(&req, "HEAD %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: headload\r\n", path, u.Host)
	for _, h := range hs {
		fmt.Fprintf(&req, "%s\r\n", h)
	}
	req.WriteString("\r\n")
	reqBytes := req.Bytes()

	start := time.Now()
	measureFrom := start.Add(*warm)
	end := measureFrom.Add(*dur)
	var measured atomic.Int64
	var wg sync.WaitGroup
	results := make([]counts, *conns)
	for i := 0; i < *conns; i++ {
		wg.Add(1)
		go func(c *counts) {
			defer wg.Done()
			c.codes = map[int]int64{}
			var conn net.Conn
			var br *bufio.Reader
			closeConn := func() {
				if conn != nil {
					conn.Close()
					conn = nil
				}
			}
			defer closeConn()
			for {
				now := time.Now()
				if !now.Before(end) || measured.Load() >= *maxReq {
					return
				}
				count := !now.Before(measureFrom)
				if conn == nil {
					conn, err = net.DialTimeout("tcp", host, 2*time.Second)
					if err != nil {
						if count {
							c.errors++
						}
						conn = nil
						time.Sleep(10 * time.Millisecond)
						continue
					}
					conn.SetDeadline(end.Add(3 * time.Second))
					br = bufio.NewReaderSize(conn, 16384)
				}
				code, keep, err := roundTrip(conn, br, reqBytes)
				if err != nil {
					// A request cut short by the end of the run is not an error.
					if count && time.Now().Before(end) {
						c.errors++
					}
					closeConn()
					if count {
						c.reconnects++
					}
					continue
				}
				// Count only responses to requests sent inside the measured window.
				if count {
					measured.Add(1)
					c.codes[code]++
					if code >= 200 && code < 300 {
						c.ok++
					} else {
						c.non2xx++
					}
				}
				if !keep {
					closeConn()
					if count {
						c.reconnects++
					}
				}
			}
		}(&results[i])
	}
	wg.Wait()
	secs := dur.Seconds()
	var total counts
	total.codes = map[int]int64{}
	for _, c := range results {
		total.ok += c.ok
		total.non2xx += c.non2xx
		total.errors += c.errors
		total.reconnects += c.reconnects
		for k, v := range c.codes {
			total.codes[k] += v
		}
	}
	n := total.ok + total.non2xx
	var keys []int
	for k := range total.codes {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var cs []string
	for _, k := range keys {
		cs = append(cs, fmt.Sprintf("%d:%d", k, total.codes[k]))
	}
	fmt.Printf("requests=%d seconds=%.3f rps=%.1f ok=%d non2xx=%d errors=%d reconnects=%d codes=%s\n",
		n, secs, float64(n)/secs, total.ok, total.non2xx, total.errors, total.reconnects, strings.Join(cs, ","))
}

// roundTrip sends one HEAD and reads the status line and headers. A HEAD response has no body
// whatever its Content-Length says (RFC 9110 9.3.2), so nothing past the blank line is read.
func roundTrip(conn net.Conn, br *bufio.Reader, req []byte) (code int, keepAlive bool, err error) {
	if _, err = conn.Write(req); err != nil {
		return 0, false, err
	}
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		// "HTTP/1.1 200 OK"
		if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
			return 0, false, fmt.Errorf("bad status line %q", line)
		}
		code, err = strconv.Atoi(string(line[9:12]))
		if err != nil {
			return 0, false, fmt.Errorf("bad status line %q", line)
		}
		keepAlive = line[7] == '1'
		for {
			h, err := br.ReadSlice('\n')
			if err != nil {
				return 0, false, err
			}
			if len(h) <= 2 { // "\r\n" or "\n"
				break
			}
			if len(h) > 11 && (h[0] == 'C' || h[0] == 'c') {
				s := strings.ToLower(string(h))
				if strings.HasPrefix(s, "connection:") {
					v := strings.TrimSpace(s[len("connection:"):])
					if strings.Contains(v, "close") {
						keepAlive = false
					} else if strings.Contains(v, "keep-alive") {
						keepAlive = true
					}
				}
			}
		}
		if code >= 100 && code < 200 { // interim response: read the final one
			continue
		}
		return code, keepAlive, nil
	}
}
