// Command rproxy is the smallest useful Go HTTP proxy: net/http's
// httputil.ReverseProxy in front of one upstream, flushing every write. It
// is the baseline for Outcrop's gateway overhead (examples/overhead): what
// any Go proxy adds on the machine, before Outcrop does any work of its own.
package main

import (
	"flag"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9101", "listen address")
	upstream := flag.String("upstream", "http://127.0.0.1:9100", "upstream base URL")
	flag.Parse()
	u, err := url.Parse(*upstream)
	if err != nil {
		log.Fatal(err)
	}
	p := httputil.NewSingleHostReverseProxy(u)
	p.FlushInterval = -1
	p.Transport = &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second}
	srv := &http.Server{Addr: *addr, Handler: p, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("proxying %s to %s", *addr, u)
	log.Fatal(srv.ListenAndServe())
}
