// Command rproxy is the smallest useful Go HTTP proxy: net/http's
// httputil.ReverseProxy in front of one upstream, flushing every write. It
// is the baseline for Outcrop's gateway overhead (examples/overhead): what
// any Go proxy adds on the machine, before Outcrop does any work of its own.
//
// With -raw it does not speak HTTP at all: each client connection gets its
// own upstream connection and the bytes are copied both ways. That is the
// floor for any user-space proxy on the machine, whatever its language: one
// more process hop with its wake-ups, and nothing else.
package main

import (
	"flag"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9101", "listen address")
	upstream := flag.String("upstream", "http://127.0.0.1:9100", "upstream base URL")
	raw := flag.Bool("raw", false, "copy bytes between connections instead of proxying HTTP")
	flag.Parse()
	u, err := url.Parse(*upstream)
	if err != nil {
		log.Fatal(err)
	}
	if *raw {
		log.Fatal(pump(*addr, u.Host))
	}
	p := httputil.NewSingleHostReverseProxy(u)
	p.FlushInterval = -1
	p.Transport = &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second}
	srv := &http.Server{Addr: *addr, Handler: p, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("proxying %s to %s", *addr, u)
	log.Fatal(srv.ListenAndServe())
}

// pump accepts connections on addr and joins each to a new connection to
// host until either side closes.
func pump(addr, host string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	log.Printf("copying bytes between %s and %s", addr, host)
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			up, err := net.Dial("tcp", host)
			if err != nil {
				log.Print(err)
				return
			}
			defer up.Close()
			done := make(chan struct{})
			go func() {
				io.Copy(c, up)
				c.(*net.TCPConn).CloseWrite()
				close(done)
			}()
			io.Copy(up, c)
			up.(*net.TCPConn).CloseWrite()
			<-done
		}()
	}
}
