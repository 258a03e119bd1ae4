package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strconv"
	"time"
)

// loadClient is the load generator's HTTP/1.1 client: keep-alive
// connections, one request written whole, the answer's status line and
// Content-Length read and its body discarded — what wrk does. The load
// generator shares the two cores with the platform it measures; net/http's
// client (two goroutines a connection, a header map and channel handoffs a
// call) cost a tenth of a call's CPU, taken from the server it was
// measuring, bare and governed alike. Both handlers set Content-Length, as
// the platform's API does.
type loadClient struct {
	addr  string
	idle  chan *loadConn
	reqHd []byte
}

type loadConn struct {
	c  net.Conn
	br *bufio.Reader
	wb []byte
}

func newLoadClient(addr string) *loadClient {
	return &loadClient{addr: addr, idle: make(chan *loadConn, 1024), reqHd: []byte(" HTTP/1.1\r\nHost: " + addr + "\r\n\r\n")}
}

func (lc *loadClient) conn() (*loadConn, error) {
	select {
	case c := <-lc.idle:
		return c, nil
	default:
	}
	c, err := net.DialTimeout("tcp", lc.addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &loadConn{c: c, br: bufio.NewReaderSize(c, 64<<10)}, nil
}

// warm opens connections until n are idle, as a client's keep-alive pool
// holds them before a run (wrk opens all its connections first). The open
// loop dialled whenever a burst found every idle connection busy, and each
// new connection (dial, accept, a server goroutine and its buffers) landed
// in the burst that made it.
func (lc *loadClient) warm(n int) error {
	for len(lc.idle) < min(n, cap(lc.idle)) {
		c, err := net.DialTimeout("tcp", lc.addr, 5*time.Second)
		if err != nil {
			return err
		}
		lc.idle <- &loadConn{c: c, br: bufio.NewReaderSize(c, 64<<10)}
	}
	return nil
}

func (lc *loadClient) close() {
	for {
		select {
		case c := <-lc.idle:
			_ = c.c.Close()
		default:
			return
		}
	}
}

// get requests path and discards the answer's body; an answer other than
// 200 is an error.
func (lc *loadClient) get(path string) error {
	c, err := lc.conn()
	if err != nil {
		return err
	}
	if err := c.roundTrip(path, lc.reqHd); err != nil {
		_ = c.c.Close()
		return err
	}
	select {
	case lc.idle <- c:
	default:
		_ = c.c.Close()
	}
	return nil
}

var contentLength = []byte("content-length:")

func (c *loadConn) roundTrip(path string, reqHd []byte) error {
	c.wb = append(append(append(c.wb[:0], "GET "...), path...), reqHd...)
	if _, err := c.c.Write(c.wb); err != nil {
		return err
	}
	return readAnswer(c.br)
}

// readAnswer reads one HTTP/1.1 answer from br, discarding its body, and
// fails unless it is a 200 with a Content-Length.
func readAnswer(br *bufio.Reader) error {
	status, err := br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if len(status) < 12 || !bytes.HasPrefix(status, []byte("HTTP/1.1 ")) {
		return fmt.Errorf("bad status line %q", status)
	}
	code := string(status[9:12])
	n := -1
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 { // the blank line ending the header
			break
		}
		if len(line) > len(contentLength) && bytes.EqualFold(line[:len(contentLength)], contentLength) {
			if n, err = strconv.Atoi(string(bytes.TrimSpace(line[len(contentLength):]))); err != nil || n < 0 {
				return fmt.Errorf("bad Content-Length %q", line)
			}
		}
	}
	if n < 0 {
		return fmt.Errorf("status %s: no Content-Length", code)
	}
	if _, err := br.Discard(n); err != nil {
		return err
	}
	if code != "200" {
		return fmt.Errorf("status %s", code)
	}
	return nil
}
